package kafkasink

import (
	"context"
	"errors"
	"testing"
	"time"

	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	. "knative.dev/pkg/reconciler/testing"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/test/kafkatest"
)

// TestTopicsOnRealKafka reconciles and finalizes sinks against the real Kafka: an owned topic is
// created with the spec's partitions and deleted with the sink; a missing external topic is
// TopicNotFound and an existing one is found and kept.
func TestTopicsOnRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clients := kafka.NewClients(nil)
	defer clients.Close()
	adm := kafkatest.Admin(t, servers)
	r := &Reconciler{
		credentials:  kafka.NewCredentials(corelisters.NewSecretLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}))),
		tracker:      &FakeTracker{},
		kafka:        KafkaFrom(clients),
		contract:     &fakeStore{},
		dataPlane:    fakeDataPlane{err: errors.New("no data plane in this test")},
		pollInterval: time.Second,
	}
	admin, err := clients.Admin(servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(topic string) bool {
		t.Helper()
		ok, err := admin.TopicExists(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	owned := kafkatest.TopicName(t)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), owned) })
	ks := newSink(withOwned, func(ks *eventingv1alpha1.KafkaSink) { ks.Spec.Topic, ks.Spec.BootstrapServers = owned, servers })
	ks.Status.InitializeConditions()
	_ = r.ReconcileKind(ctx, ks) // requeued: no data plane serves it here
	if c := ks.Status.GetCondition(eventingv1alpha1.ConditionTopicReady); !c.IsTrue() || c.Reason != eventingv1alpha1.ReasonTopicCreated {
		t.Fatalf("TopicReady = %+v, want True, TopicCreated", c)
	}
	if err := kafkatest.WaitTopic(ctx, adm, owned, 3); err != nil {
		t.Fatal(err)
	}
	if event := r.FinalizeKind(ctx, ks); event != nil {
		t.Fatalf("FinalizeKind = %v", event)
	}
	for deadline := time.Now().Add(20 * time.Second); exists(owned); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("owned topic %q still exists after FinalizeKind", owned)
		}
	}

	external := kafkatest.TopicName(t)
	ks = newSink(func(ks *eventingv1alpha1.KafkaSink) { ks.Spec.Topic, ks.Spec.BootstrapServers = external, servers })
	ks.Status.InitializeConditions()
	if event := r.ReconcileKind(ctx, ks); event == nil {
		t.Fatal("ReconcileKind of a sink on a missing topic succeeded")
	}
	if c := ks.Status.GetCondition(eventingv1alpha1.ConditionTopicReady); !c.IsFalse() || c.Reason != ReasonTopicNotFound {
		t.Fatalf("TopicReady = %+v, want False, TopicNotFound", c)
	}
	if exists(external) {
		t.Fatalf("reconciling a sink that does not own %q created it", external)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), external) })
	if resp, err := adm.CreateTopic(ctx, 2, 1, nil, external); err != nil || resp.Err != nil {
		t.Fatalf("creating topic %q: %v %v", external, err, resp.Err)
	}
	if err := kafkatest.WaitTopic(ctx, adm, external, 2); err != nil {
		t.Fatal(err)
	}
	_ = r.ReconcileKind(ctx, ks)
	if c := ks.Status.GetCondition(eventingv1alpha1.ConditionTopicReady); !c.IsTrue() || c.Reason != eventingv1alpha1.ReasonTopicExternal {
		t.Fatalf("TopicReady = %+v, want True, TopicExternal", c)
	}
	if event := r.FinalizeKind(ctx, ks); event != nil {
		t.Fatalf("FinalizeKind = %v", event)
	}
	if !exists(external) {
		t.Errorf("finalizing a sink that does not own %q deleted it", external)
	}
}
