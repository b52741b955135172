package contractstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"knkafka.dev/control-plane/pkg/contract"
)

const ns = "knative-eventing"

// read assembles the contract published in the fake cluster.
func read(t *testing.T, client *fake.Clientset) *contract.Contract {
	t.Helper()
	ctx := context.Background()
	api := client.CoreV1().ConfigMaps(ns)
	index, err := api.Get(ctx, contract.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the index: %v", err)
	}
	var idx contract.Index
	if err := json.Unmarshal([]byte(index.Data[contract.IndexKey]), &idx); err != nil {
		t.Fatal(err)
	}
	var shards []contract.Shard
	for n := 0; n < idx.Shards; n++ {
		cm, err := api.Get(ctx, contract.ShardName(contract.ConfigMapName, n), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading shard %d: %v", n, err)
		}
		gen, _ := strconv.ParseUint(cm.Data[contract.ShardGenerationKey], 10, 64)
		shards = append(shards, contract.Shard{Number: n, Generation: gen, Data: cm.BinaryData[contract.ShardKey]})
	}
	c, err := contract.Assemble(idx, shards)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func broker(uid string) contract.Resource {
	return contract.Resource{UID: uid, Kind: contract.KindBroker, Namespace: "default", Name: uid,
		Topic: "knative-broker-default-" + uid, BootstrapServers: []string{"kafka:9092"},
		Ingress: &contract.Ingress{Path: "/default/" + uid}}
}

func trigger(uid string) contract.Egress {
	return contract.Egress{UID: uid, Kind: contract.KindTrigger, Namespace: "default", Name: uid,
		ConsumerGroup: "knative-trigger-default-" + uid, Destination: "http://" + uid + ".default.svc",
		Reply: contract.Reply{Kind: contract.ReplyTopic}}
}

func countWrites(client *fake.Clientset) func() int {
	n := 0
	client.PrependReactor("*", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			n++
		}
		return false, nil, nil
	})
	return func() int { return n }
}

func TestPublishWritesOnlyChangedContent(t *testing.T) {
	client := fake.NewClientset()
	writes := countWrites(client)
	s := New(client, ns, zaptest.NewLogger(t))
	ctx := context.Background()

	s.SetResource(broker("b1"))
	s.SetEgress("b1", trigger("t2"))
	s.SetEgress("b1", trigger("t1"))
	if _, ok := s.Published("t1"); ok {
		t.Error("Published reported an egress that was never published")
	}
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	want := &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: 1, Resources: []contract.Resource{broker("b1")}}
	want.Resources[0].Egresses = []contract.Egress{trigger("t1"), trigger("t2")}
	if diff := cmp.Diff(want, read(t, client)); diff != "" {
		t.Fatalf("published contract (-want +got):\n%s", diff)
	}
	if g, ok := s.Published("t1"); !ok || g != 1 {
		t.Errorf("Published(t1) = %d, %v; want 1, true", g, ok)
	}

	// Setting identical content changes nothing: no new generation, no writes.
	before := writes()
	s.SetResource(broker("b1"))
	s.SetEgress("b1", trigger("t1"))
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if writes() != before || s.Generation() != 1 {
		t.Errorf("unchanged content wrote %d ConfigMaps and moved to generation %d", writes()-before, s.Generation())
	}

	// A changed egress gets a new generation; the untouched one keeps its own.
	changed := trigger("t2")
	changed.Order = contract.Ordered
	s.SetEgress("b1", changed)
	if _, ok := s.Published("t2"); ok {
		t.Error("a changed egress still reported as published before publication")
	}
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Published("t2"); g != 2 {
		t.Errorf("Published(t2) = %d, want 2", g)
	}
	if g, _ := s.Published("t1"); g != 1 {
		t.Errorf("Published(t1) = %d, want 1 (it did not change)", g)
	}

	s.DeleteEgress("b1", "t1")
	s.DeleteResource("b1")
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, client); len(got.Resources) != 0 || got.Generation != 3 {
		t.Errorf("after deleting everything: %+v", got)
	}
	if _, ok := s.Published("t2"); ok {
		t.Error("a deleted egress is still reported as published")
	}
}

func TestARestartedStoreStartsFromThePublishedContract(t *testing.T) {
	client := fake.NewClientset()
	ctx := context.Background()
	first := New(client, ns, zaptest.NewLogger(t))
	first.SetResource(broker("b1"))
	first.SetEgress("b1", trigger("t1"))
	first.SetEgress("b1", trigger("t2"))
	if err := first.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	before := read(t, client)

	// A new controller process: its first reconcile changes one trigger only.
	second := New(client, ns, zaptest.NewLogger(t))
	changed := trigger("t2")
	changed.Order = contract.Ordered
	second.SetEgress("b1", changed)
	if err := second.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	after := read(t, client)
	if after.Generation != before.Generation+1 {
		t.Errorf("generation %d after the restart, want %d", after.Generation, before.Generation+1)
	}
	want := before.Resources[0]
	want.Egresses = []contract.Egress{trigger("t1"), changed}
	if diff := cmp.Diff([]contract.Resource{want}, after.Resources); diff != "" {
		t.Errorf("the restarted store dropped or changed entries it was not told about (-want +got):\n%s", diff)
	}
	if g, ok := second.Published("t1"); !ok || g != before.Generation {
		t.Errorf("Published(t1) = %d, %v after the restart; want %d, true", g, ok, before.Generation)
	}

	// Reconciling everything unchanged writes nothing.
	third := New(client, ns, zaptest.NewLogger(t))
	third.SetResource(broker("b1"))
	third.SetEgress("b1", trigger("t1"))
	third.SetEgress("b1", changed)
	if err := third.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if g := read(t, client).Generation; g != after.Generation {
		t.Errorf("unchanged content after a restart published generation %d, want %d kept", g, after.Generation)
	}
}

func TestRunPublishesAFirstContractOnAFreshInstall(t *testing.T) {
	client := fake.NewClientset()
	s := New(client, ns, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for s.Generation() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Generation() != 1 {
		t.Fatalf("generation %d after Run started, want 1", s.Generation())
	}
	if c := read(t, client); len(c.Resources) != 0 || c.Generation != 1 {
		t.Errorf("first contract %+v, want an empty generation 1", c)
	}
}

func TestTenThousandTriggersFitTheConfigMapLimit(t *testing.T) {
	client := fake.NewClientset()
	var largest int
	client.PrependReactor("*", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(clienttesting.CreateAction); ok {
			b, _ := json.Marshal(o.GetObject())
			largest = max(largest, len(b))
		}
		return false, nil, nil
	})
	s := New(client, ns, zaptest.NewLogger(t))
	s.SetResource(broker("b1"))
	for i := 0; i < 10000; i++ {
		e := trigger(fmt.Sprintf("trigger-%05d", i))
		e.Filter = &contract.Filter{Attributes: map[string]string{"type": fmt.Sprintf("com.example.event.%d", i)}}
		s.SetEgress("b1", e)
	}
	if err := s.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := read(t, client)
	if n := len(got.Resources[0].Egresses); n != 10000 {
		t.Fatalf("published %d egresses, want 10000", n)
	}
	t.Logf("largest ConfigMap written: %d bytes", largest)
	if largest >= 1<<20 {
		t.Errorf("a ConfigMap of %d bytes exceeds the 1 MiB limit", largest)
	}
}

func TestShrinkingTheContractRemovesStaleShards(t *testing.T) {
	client := fake.NewClientset()
	s := New(client, ns, zaptest.NewLogger(t))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r := broker(fmt.Sprintf("b%d", i))
		// Incompressible padding forces one shard per resource.
		pad := make([]byte, 0, 700<<10)
		for j := 0; len(pad) < 700<<10; j++ {
			pad = strconv.AppendUint(pad, uint64(j)*2654435761%1000003, 36)
		}
		r.Topic = string(pad)
		s.SetResource(r)
	}
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	list := func() int {
		l, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	if n := list(); n != 4 {
		t.Fatalf("%d ConfigMaps for three large resources, want 3 shards + index", n)
	}
	s.DeleteResource("b1")
	s.DeleteResource("b2")
	if err := s.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if n := list(); n != 2 {
		t.Errorf("%d ConfigMaps after shrinking to one resource, want 1 shard + index", n)
	}
	if got := read(t, client); len(got.Resources) != 1 {
		t.Errorf("%d resources published, want 1", len(got.Resources))
	}
}
