package dataplane

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// brokerContract is one broker on topic with one unordered egress to subscriber.
func brokerContract(gen uint64, servers []string, topic, subscriber string) *contract.Contract {
	return &contract.Contract{Generation: gen, Resources: []contract.Resource{{
		UID: "broker-uid", Kind: contract.KindBroker, Namespace: "default", Name: "default",
		Topic: topic, BootstrapServers: servers, Ingress: &contract.Ingress{Path: "/default/default"},
		Egresses: []contract.Egress{{
			UID: "trigger-uid", Kind: contract.KindTrigger, Namespace: "default", Name: "all",
			ConsumerGroup: "knative-trigger-" + topic, Destination: subscriber,
			Reply: contract.Reply{Kind: contract.ReplyDiscard}, Order: contract.Unordered,
			Delivery: contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear,
				BackoffDelay: contract.Duration(50 * time.Millisecond)},
		}},
	}}}
}

// placement records where each produced event landed, for failure reports.
var placement sync.Map // event id -> "partition/offset"

// produce writes events evt-from .. evt-(to-1) to topic as binary-mode CloudEvents records.
func produce(t *testing.T, servers []string, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxFor(t, 2*time.Minute)
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		e := cloudevents.NewEvent()
		e.SetID(eventID(i))
		e.SetSource("/test/dataplane")
		e.SetType("test.event")
		_ = e.SetData(cloudevents.ApplicationJSON, map[string]int{"n": i})
		r, err := cekafka.Encode(&e)
		if err != nil {
			t.Fatal(err)
		}
		r.Topic = topic
		recs = append(recs, r)
		if len(recs) == 500 || i == to-1 {
			results := cl.ProduceSync(ctx, recs...)
			if err := results.FirstErr(); err != nil {
				t.Fatalf("producing: %v", err)
			}
			for _, r := range results {
				placement.Store(string(r.Record.Headers[indexOfID(r.Record)].Value),
					fmt.Sprintf("%d/%d", r.Record.Partition, r.Record.Offset))
			}
			recs = recs[:0]
		}
	}
}

func indexOfID(r *kgo.Record) int {
	for i, h := range r.Headers {
		if h.Key == "ce_id" {
			return i
		}
	}
	return 0
}

// explainLoss logs where the missing events were and what the group committed.
func explainLoss(t *testing.T, sub *subscriber, n int, servers []string, group string) {
	t.Helper()
	for _, id := range sub.missing(n) {
		at, _ := placement.Load(id)
		t.Logf("missing %s at partition/offset %v", id, at)
	}
	offs, err := kafkatest.Admin(t, servers).FetchOffsets(ctxFor(t, 10*time.Second), group)
	if err != nil {
		t.Logf("fetching committed offsets: %v", err)
		return
	}
	offs.Each(func(o kadm.OffsetResponse) { t.Logf("committed %s/%d: %d", o.Topic, o.Partition, o.At) })
}

func TestEventsFlowFromIngressToSubscriberInOneProcess(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	sub := newSubscriber(t)
	file := filepath.Join(t.TempDir(), "contract.json")
	writeContract(t, file, brokerContract(1, servers, topic, sub.addr))
	p := start(t, "all", file)
	p.WaitReady(t, 1, []string{"broker-uid"}, []string{"trigger-uid"})

	const n = 200
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.Ingress+"/default/default", bytes.NewBufferString(`{"n":1}`))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", eventID(i))
		req.Header.Set("Ce-Source", "/test")
		req.Header.Set("Ce-Type", "test.event")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event %d: ingress answered %d, want 202", i, resp.StatusCode)
		}
	}
	if !sub.waitUnique(t, n, time.Minute) {
		t.FailNow()
	}

	// Removing the broker from the contract stops its route.
	writeContract(t, file, &contract.Contract{Generation: 2})
	p.WaitReady(t, 2, nil, nil)
	resp, err := http.Post("http://"+p.Ingress+"/default/default", "application/json", bytes.NewBufferString(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("after the broker left the contract the ingress answered %d, want 404", resp.StatusCode)
	}
}

func TestDispatcherKilledMidStreamLosesNoEvent(t *testing.T) {
	const n = 10000
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 4)
	sub := newSubscriber(t)
	file := filepath.Join(t.TempDir(), "contract.json")
	writeContract(t, file, brokerContract(1, servers, topic, sub.addr))

	first := start(t, "dispatcher", file)
	first.WaitReady(t, 1, nil, []string{"trigger-uid"})
	produce(t, servers, topic, 0, n)
	if !sub.waitUnique(t, n/4, 2*time.Minute) {
		t.FailNow()
	}
	first.Kill()
	killedAt, _ := sub.counts()

	second := start(t, "dispatcher", file)
	second.WaitReady(t, 1, nil, []string{"trigger-uid"})
	if !sub.waitUnique(t, n, 3*time.Minute) {
		explainLoss(t, sub, n, servers, "knative-trigger-"+topic)
		t.FailNow()
	}
	unique, total := sub.counts()
	t.Logf("SIGKILL after %d distinct deliveries; in the end %d distinct of %d events, %d duplicates", killedAt, unique, n, total-unique)
	if unique != n {
		t.Errorf("%d distinct events delivered, want exactly %d", unique, n)
	}
}

func TestTwoReplicasShareAGroupThroughRebalances(t *testing.T) {
	const n = 3000
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 6)
	sub := newSubscriber(t)
	file := filepath.Join(t.TempDir(), "contract.json")
	writeContract(t, file, brokerContract(1, servers, topic, sub.addr))

	a := start(t, "dispatcher", file)
	a.WaitReady(t, 1, nil, []string{"trigger-uid"})
	produce(t, servers, topic, 0, n/3)

	b := start(t, "dispatcher", file) // joins: the group rebalances over both replicas
	b.WaitReady(t, 1, nil, []string{"trigger-uid"})
	produce(t, servers, topic, n/3, 2*n/3)

	a.Stop(t) // leaves: b takes every partition
	produce(t, servers, topic, 2*n/3, n)
	if !sub.waitUnique(t, n, 3*time.Minute) {
		explainLoss(t, sub, n, servers, "knative-trigger-"+topic)
		t.FailNow()
	}
	unique, total := sub.counts()
	t.Logf("%d distinct of %d events through two rebalances, %d duplicates", unique, n, total-unique)
	if unique != n {
		t.Errorf("%d distinct events delivered, want exactly %d", unique, n)
	}
}
