package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	reconcilertesting "knative.dev/eventing/pkg/reconciler/testing/v1"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
	"knkafka.dev/test/kafkatest"
)

// TestTopicStepRealKafka runs the topic step and the finalizer against real Kafka: the topic gets
// the ConfigMap's partitions, replication and topic configs, and is gone after finalizing.
func TestTopicStepRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clients := kafka.NewClients(nil)
	defer clients.Close()

	cm := brokerConfig(func(cm *corev1.ConfigMap) {
		cm.Data["bootstrap.servers"] = strings.Join(servers, ",")
		cm.Data["default.topic.partitions"] = "3"
		cm.Data["default.topic.replication.factor"] = "1"
		cm.Data["default.topic.config.retention.ms"] = "7200000"
		delete(cm.Data, "auth.secret.ref.name")
	})
	b := newBroker(func(b *eventingv1.Broker) { b.Name = fmt.Sprintf("it-%d", time.Now().UnixNano()) })
	listers := reconcilertesting.NewListers([]runtime.Object{cm})
	r := &Reconciler{
		configMaps: listers.GetConfigMapLister(),
		triggers:   listers.GetTriggerLister(),
		kafka:      KafkaFrom(clients),
		contract:   &fakeStore{},
		dataPlane:  &fakeDataPlane{status: contract.Status{Generation: 1, Egresses: map[string]contract.ServingStatus{}}},
	}
	cfg, err := contractbuild.ParseBrokerConfig(cm.Data)
	if err != nil {
		t.Fatal(err)
	}
	topic, event := r.topicName(b)
	if event != nil {
		t.Fatalf("topicName = %v", event)
	}
	adm := kafkatest.Admin(t, servers)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })

	if event, _ := r.topic(ctx, b, topic, cfg, nil, kafkaconn.Origin{}); event != nil {
		t.Fatalf("topic step = %v", event)
	}
	if c := b.Status.GetCondition(ConditionTopicReady); c == nil || !c.IsTrue() {
		t.Fatalf("TopicReady = %+v, want True", c)
	}
	if err := kafkatest.WaitTopic(ctx, adm, topic, 3); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	replicas := map[int32]int{}
	for p, d := range details[topic].Partitions {
		replicas[p] = len(d.Replicas)
	}
	if diff := cmp.Diff(map[int32]int{0: 1, 1: 1, 2: 1}, replicas); diff != "" {
		t.Errorf("replicas per partition (-want +got):\n%s", diff)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	retention := ""
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			retention = c.MaybeValue()
		}
	}
	if retention != "7200000" {
		t.Errorf("retention.ms = %q, want 7200000", retention)
	}

	// A second pass finds the topic and succeeds.
	if event, _ := r.topic(ctx, b, topic, cfg, nil, kafkaconn.Origin{}); event != nil {
		t.Fatalf("second topic step = %v", event)
	}

	if event := r.FinalizeKind(ctx, b); event != nil {
		t.Fatalf("FinalizeKind = %v", event)
	}
	admin, err := clients.Admin(servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		exists, err := admin.TopicExists(ctx, topic)
		if err == nil && !exists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %q still exists after FinalizeKind (err %v)", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
