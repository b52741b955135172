package contract

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func sample() *Contract {
	return &Contract{
		SchemaVersion: SchemaVersion,
		Generation:    7,
		Resources: []Resource{{
			UID: "b-uid", Kind: KindBroker, Namespace: "default", Name: "default",
			Topic:            "knative-broker-default-default",
			BootstrapServers: []string{"kafka-0:9092", "kafka-1:9092"},
			Auth:             &SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"},
			Ingress:          &Ingress{Path: "/default/default"},
			Egresses: []Egress{{
				UID: "t-uid", Kind: KindTrigger, Namespace: "default", Name: "orders",
				ConsumerGroup: "knative-trigger-default-orders",
				Destination:   "http://orders.default.svc.cluster.local",
				Reply:         Reply{Kind: ReplyTopic},
				DeadLetter:    "http://dls.default.svc.cluster.local",
				Delivery: Delivery{Retry: 3, BackoffPolicy: BackoffExponential,
					BackoffDelay: Duration(200 * time.Millisecond), Timeout: Duration(5 * time.Second),
					RetryAfterMax: Duration(time.Minute)},
				Order: Ordered,
				Filter: &Filter{
					Attributes: map[string]string{"type": "order.created"},
					Filters: []eventingv1.SubscriptionsAPIFilter{
						{Prefix: map[string]string{"source": "/shop"}},
						{CESQL: "subject LIKE 'eu-%'"},
					},
				},
			}},
		}, {
			UID: "c-uid", Kind: KindKafkaChannel, Namespace: "team", Name: "events",
			Topic:            "knative-messaging-kafka.team.events",
			BootstrapServers: []string{"kafka-0:9092"},
			Ingress:          &Ingress{Path: "/team/events", Host: "events-kn-channel.team.svc.cluster.local"},
			Egresses: []Egress{{
				UID: "s-uid", Kind: KindSubscription, Namespace: "team", Name: "audit",
				ConsumerGroup: "kafka.team.events.s-uid",
				Destination:   "http://audit.team.svc.cluster.local",
				Reply:         Reply{Kind: ReplyURL, URL: "http://reply.team.svc.cluster.local"},
				Order:         KeyOrdered,
				MaxInFlight:   50,
			}},
		}},
	}
}

func TestContractMatchesGolden(t *testing.T) {
	got, err := json.MarshalIndent(sample(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "contract.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(bytes.TrimSpace(want)), string(got)); diff != "" {
		t.Errorf("encoding changed (-golden +got); rerun with -update if intended:\n%s", diff)
	}
	back, err := Unmarshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample(), back); diff != "" {
		t.Errorf("golden file does not decode to the sample (-want +got):\n%s", diff)
	}
}

func TestUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Contract
		wantErr string
	}{{
		name: "unknown fields are ignored",
		in:   `{"schemaVersion":1,"generation":3,"futureField":{"x":1},"resources":[{"uid":"a","newThing":true}]}`,
		want: &Contract{SchemaVersion: 1, Generation: 3, Resources: []Resource{{UID: "a"}}},
	}, {
		name:    "newer schema versions are refused",
		in:      `{"schemaVersion":2,"generation":3}`,
		wantErr: "newer than this data plane",
	}, {
		name: "durations accept strings and nanoseconds",
		in:   `{"resources":[{"egresses":[{"delivery":{"backoffDelay":"1.5s","timeout":2000000000}}]}]}`,
		want: &Contract{Resources: []Resource{{Egresses: []Egress{{Delivery: Delivery{
			BackoffDelay: Duration(1500 * time.Millisecond), Timeout: Duration(2 * time.Second)}}}}}},
	}, {
		name:    "a bad duration is an error",
		in:      `{"resources":[{"egresses":[{"delivery":{"timeout":"soon"}}]}]}`,
		wantErr: `parsing duration "soon"`,
	}, {
		name:    "not JSON",
		in:      `generation: 1`,
		wantErr: "decoding contract",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unmarshal([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// manyTriggers builds a broker with n triggers, each with its own filter and subscriber.
func manyTriggers(n int) *Contract {
	c := &Contract{SchemaVersion: SchemaVersion, Generation: 42}
	r := Resource{UID: "broker", Kind: KindBroker, Namespace: "default", Name: "default",
		Topic: "knative-broker-default-default", BootstrapServers: []string{"kafka:9092"},
		Ingress: &Ingress{Path: "/default/default"}}
	for i := 0; i < n; i++ {
		r.Egresses = append(r.Egresses, Egress{
			UID: fmt.Sprintf("%08x-4b1e-4c5d-9a61-%012x", i*7919, i), Kind: KindTrigger,
			Namespace: "default", Name: fmt.Sprintf("trigger-%d", i),
			ConsumerGroup: fmt.Sprintf("knative-trigger-default-trigger-%d", i),
			Destination:   fmt.Sprintf("http://service-%d.default.svc.cluster.local/events", i),
			Reply:         Reply{Kind: ReplyTopic},
			Delivery:      Delivery{Retry: 3, BackoffPolicy: BackoffExponential, BackoffDelay: Duration(time.Second)},
			Filter:        &Filter{Attributes: map[string]string{"type": fmt.Sprintf("com.example.type-%d", i)}},
		})
	}
	c.Resources = []Resource{r}
	return c
}

func TestSplitAndAssembleTenThousandTriggers(t *testing.T) {
	const limit = 1 << 20
	c := manyTriggers(10000)
	plain, _ := Marshal(c)
	idx, shards, err := Split(c, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d triggers: %d bytes of JSON in %d shard(s)", 10000, len(plain), len(shards))
	if idx.Shards != len(shards) || idx.Generation != c.Generation {
		t.Fatalf("index %+v does not describe %d shards of generation %d", idx, len(shards), c.Generation)
	}
	for _, s := range shards {
		if len(s.Data) > limit {
			t.Errorf("shard %d is %d bytes, over the %d limit", s.Number, len(s.Data), limit)
		}
	}
	back, err := Assemble(idx, shards)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("assembled contract differs (-want +got):\n%s", diff)
	}
}

func TestSplitSpreadsOneResourceOverShards(t *testing.T) {
	c := manyTriggers(300)
	c.Resources = append(c.Resources, Resource{UID: "zz-channel", Kind: KindKafkaChannel, Topic: "t"})
	idx, shards, err := Split(c, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) < 3 {
		t.Fatalf("got %d shards for a contract far over the limit", len(shards))
	}
	for _, s := range shards {
		if len(s.Data) > 4096 {
			t.Errorf("shard %d is %d bytes", s.Number, len(s.Data))
		}
	}
	back, err := Assemble(idx, shards)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAssembleRefusesIncompleteGenerations(t *testing.T) {
	c := manyTriggers(300)
	idx, shards, err := Split(c, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Assemble(idx, shards[1:]); err == nil {
		t.Error("assembled a contract with its first shard missing")
	}
	stale := append([]Shard(nil), shards...)
	stale[0].Generation--
	if _, err := Assemble(idx, stale); err == nil {
		t.Error("assembled a contract from a shard of an older generation")
	}
	corrupt := append([]Shard(nil), shards...)
	corrupt[0].Data = []byte("not gzip")
	if _, err := Assemble(idx, corrupt); err == nil {
		t.Error("assembled a contract from a corrupt shard")
	}
}

func TestSplitRefusesAnEgressLargerThanAShard(t *testing.T) {
	c := manyTriggers(1)
	// Random-looking content does not compress below the limit.
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "%x", i*2654435761)
	}
	c.Resources[0].Egresses[0].Destination = "http://x/" + b.String()
	if _, _, err := Split(c, 1024); err == nil {
		t.Error("split an egress larger than the shard limit without error")
	}
}

// manyResources builds n channels with one subscription each.
func manyResources(n int) *Contract {
	c := &Contract{SchemaVersion: SchemaVersion, Generation: 9}
	for i := 0; i < n; i++ {
		c.Resources = append(c.Resources, Resource{
			UID: fmt.Sprintf("%08d-channel", i), Kind: KindKafkaChannel, Namespace: "team", Name: fmt.Sprintf("ch-%d", i),
			Topic: fmt.Sprintf("knative-messaging-kafka.team.ch-%d", i), BootstrapServers: []string{"kafka:9092"},
			Ingress: &Ingress{Path: fmt.Sprintf("/team/ch-%d", i), Host: fmt.Sprintf("ch-%d-kn-channel.team.svc.cluster.local", i)},
			Egresses: []Egress{{UID: fmt.Sprintf("%08d-sub", i), Kind: KindSubscription, Namespace: "team",
				ConsumerGroup: fmt.Sprintf("kafka.team.ch-%d.%08d-sub", i, i), Destination: fmt.Sprintf("http://svc-%d.team.svc", i),
				Order: Ordered, Reply: Reply{Kind: ReplyDiscard}}},
		})
	}
	return c
}

func TestSplitManyResources(t *testing.T) {
	c := manyResources(3000)
	idx, shards, err := Split(c, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shards {
		if len(s.Data) > 64<<10 {
			t.Errorf("shard %d is %d bytes, over the limit", s.Number, len(s.Data))
		}
	}
	back, err := Assemble(idx, shards)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	t.Logf("%d resources in %d shards", len(c.Resources), len(shards))
}

func BenchmarkSplitManyResources(b *testing.B) {
	c := manyResources(3000)
	for b.Loop() {
		if _, _, err := Split(c, 900<<10); err != nil {
			b.Fatal(err)
		}
	}
}
