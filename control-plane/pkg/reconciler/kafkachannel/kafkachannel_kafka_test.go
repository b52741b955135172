package kafkachannel

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/test/kafkatest"
)

// TestReconcileRealKafka reconciles a channel against real Kafka (Kubernetes and the data plane
// are fakes): its topic gets the spec's 3 partitions and PT1H retention, a changed retention is
// applied to the existing topic, and finalizing deletes the topic.
func TestReconcileRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clients := kafka.NewClients(nil)
	defer clients.Close()

	name := fmt.Sprintf("it-%d", time.Now().UnixNano())
	kc := NewKafkaChannel(name, ns, WithSubscribers(subscriber("a")), func(kc *messagingv1beta1.KafkaChannel) {
		kc.UID = "it-" + kc.UID
		kc.Spec.NumPartitions = 3
		kc.Spec.RetentionDuration = "PT1H"
	})
	cm := channelConfig(func(cm *corev1.ConfigMap) {
		cm.Data = map[string]string{"bootstrap.servers": strings.Join(servers, ",")}
	})
	ls := newListers([]runtime.Object{cm})
	tctx, _ := testContext(t, ls)
	tctx, kube := fakekubeclient.With(tctx, ls.kubeObjects()...)
	store := &fakeStore{published: map[string]uint64{string(kc.UID): 1, "a": 1}}
	dataPlane := &fakeDataPlane{status: contract.Status{
		Generation: 1,
		Ingresses:  map[string]contract.ServingStatus{string(kc.UID): {Ready: true}},
		Egresses:   map[string]contract.ServingStatus{"a": {Ready: true}},
	}}
	r := newReconciler(tctx, ls, &fakeKafka{}, store, dataPlane)
	r.kafka = KafkaFrom(clients)
	topic, err := contractbuild.DefaultNameTemplates().ChannelTopic(kc)
	if err != nil {
		t.Fatal(err)
	}
	adm := kafkatest.Admin(t, servers)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })

	if event := r.ReconcileKind(tctx, kc); event != nil {
		t.Fatalf("ReconcileKind = %v", event)
	}
	if !kc.Status.IsReady() {
		t.Fatalf("channel not Ready: %+v", kc.Status.Conditions)
	}
	if got := kc.Status.Annotations[contractbuild.TopicStatusAnnotation]; got != topic {
		t.Errorf("recorded topic = %q, want %q", got, topic)
	}
	if err := kafkatest.WaitTopic(ctx, adm, topic, 3); err != nil {
		t.Fatal(err)
	}
	if got := retentionMs(ctx, t, adm, topic); got != "3600000" {
		t.Errorf("retention.ms = %q, want 3600000 (PT1H)", got)
	}
	svc, err := kube.CoreV1().Services(ns).Get(ctx, name+"-kn-channel", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the channel's Service: %v", err)
	}
	if svc.Spec.ExternalName != "kafka-channel-ingress.knative-eventing.svc.cluster.local" {
		t.Errorf("Service points at %q", svc.Spec.ExternalName)
	}

	// A changed retention is set on the existing topic; the partitions stay.
	kc.Spec.RetentionDuration = "PT2H"
	ls.sorter.AddObjects(svc) // the Service informer has seen it by now
	if event := r.ReconcileKind(tctx, kc); event != nil {
		t.Fatalf("second ReconcileKind = %v", event)
	}
	// KRaft applies a config change through the controller's metadata log: the broker answering
	// DescribeConfigs may show the old value for a moment.
	got := retentionMs(ctx, t, adm, topic)
	for deadline := time.Now().Add(10 * time.Second); got != "7200000" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		got = retentionMs(ctx, t, adm, topic)
	}
	if got != "7200000" {
		t.Errorf("retention.ms after the change = %q, want 7200000 (PT2H)", got)
	}

	// While a dispatcher still runs the subscription, its consumer group is left alone: the
	// dispatcher commits without joining it, and would bring it back.
	if event := r.FinalizeKind(tctx, kc); event == nil {
		t.Fatal("FinalizeKind deleted the channel's groups while the data plane still ran its subscription")
	}
	dataPlane.set(contract.Status{Generation: 2, Ingresses: map[string]contract.ServingStatus{}, Egresses: map[string]contract.ServingStatus{}}, nil)
	if event := r.FinalizeKind(tctx, kc); event != nil {
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

// retentionMs is the topic's retention.ms as the cluster describes it.
func retentionMs(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) string {
	t.Helper()
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Err != nil {
		t.Fatalf("describing %q: %v", topic, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			return c.MaybeValue()
		}
	}
	return ""
}
