package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/test/kafkatest"
)

// sinkIngressHost is the host of every KafkaSink's address; the cluster DNS shim serves it.
const sinkIngressHost = "kafka-sink-ingress." + systemNamespace + clusterDomain

// testKafkaSink is issue 17's KafkaSink flow: a sink that owns its topic (binary mode) and one on
// an existing topic (structured mode) become Ready with their addresses on the sink ingress; the
// second waits, TopicReady False, until its topic exists. Events POSTed to the addresses are in
// the topics as Kafka's own console consumer prints them — ce_ headers and the data, or one
// content-type header and the whole event as JSON, keyed by partitionkey — and a KafkaSource
// reading the binary sink's topic delivers the same events to a subscriber. An unknown sink is
// 404. Deleting the sinks deletes the owned topic and keeps the other.
func testKafkaSink(t *testing.T, s *suite) {
	const ns, owned, external = "sinks", "orders", "audit"
	const ownedTopic, externalTopic = "knkafka-e2e-sink-orders", "knkafka-e2e-sink-audit"
	const source, service, broker, trigger = "sink-reader", "sink-reader-display", "default", "to-audit"
	namespace(t, s, ns)
	s.forgetKafka(t, ownedTopic)
	s.forgetKafka(t, externalTopic)
	s.forgetKafka(t, brokerTopic(ns, broker), triggerGroup(ns, trigger))
	t.Cleanup(func() { s.deleteKafkaSink(t, ns, external) })
	t.Cleanup(func() { s.deleteKafkaSink(t, ns, owned) })
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, broker, []string{trigger}) })

	// 1. The sink owning its topic: created with the spec's partitions, Ready with its address.
	createKafkaSink(t, s, newKafkaSink(ns, owned, ownedTopic, s.servers, func(ks *eventingv1alpha1.KafkaSink) {
		partitions, replication := int32(3), int16(1)
		ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = &partitions, &replication
	}))
	waitReady(t, 60*time.Second, "KafkaSink "+ns+"/"+owned, kafkaSinkConditions(s, ns, owned))
	if n, ok, err := topicPartitions(ctxFor(t, 30*time.Second), s.kafka, ownedTopic); !ok || n != 3 {
		t.Fatalf("topic %s: exists=%t partitions=%d err=%v, want the sink's 3 partitions", ownedTopic, ok, n, err)
	}
	ownedAddress := checkSinkStatus(t, s, ns, owned, eventingv1alpha1.TopicOwnerController)

	// 2. The sink on a topic that does not exist yet: TopicReady False until it does.
	createKafkaSink(t, s, newKafkaSink(ns, external, externalTopic, s.servers, func(ks *eventingv1alpha1.KafkaSink) {
		mode := eventingv1alpha1.ModeStructured
		ks.Spec.ContentMode = &mode
	}))
	eventually(t, 60*time.Second, "KafkaSink "+ns+"/"+external+" TopicReady False with TopicNotFound", func() (bool, string) {
		conds, err := kafkaSinkConditions(s, ns, external)(context.Background())
		if err != nil {
			return false, err.Error()
		}
		c := findCondition(conds, eventingv1alpha1.ConditionTopicReady)
		return c != nil && c.IsFalse() && c.Reason == "TopicNotFound", describeConditions(conds)
	})
	s.userTopic(t, externalTopic, 2)
	waitReady(t, 90*time.Second, "KafkaSink "+ns+"/"+external, kafkaSinkConditions(s, ns, external))
	externalAddress := checkSinkStatus(t, s, ns, external, eventingv1alpha1.TopicOwnerExternal)

	// 3. Events POSTed to the addresses, keyed by partitionkey; an unknown sink is 404.
	var sent []cloudevents.Event
	for i := range 3 {
		sent = append(sent, event(fmt.Sprintf("sink-%d", i), "dev.knkafka.e2e.order", "/e2e/sink", map[string]string{"partitionkey": fmt.Sprintf("customer-%d", i%2)}))
	}
	s.mustSend(t, hostOf(ownedAddress), ownedAddress.Path, sent...)
	s.mustSend(t, hostOf(externalAddress), externalAddress.Path, sent...)
	if code, err := s.send(ctxFor(t, 30*time.Second), sinkIngressHost, "/"+ns+"/nope", sent[0]); code != http.StatusNotFound {
		t.Errorf("POST to an unknown sink: %d %v, want 404", code, err)
	}

	// 4. Kafka's console consumer prints both layouts.
	checkBinaryRecords(t, kafkatest.ConsoleConsume(t, s.servers, ownedTopic, len(sent)), sent)
	checkStructuredRecords(t, kafkatest.ConsoleConsume(t, s.servers, externalTopic, len(sent)), sent)

	// 5. A KafkaSource reads the binary sink's topic back: the records are CloudEvents, so the
	// subscriber gets the events that were POSTed.
	subscriber := newSink(t, service)
	s.createService(t, ns, service)
	s.dns.registerService(t, ns, service, subscriber.url.String())
	ks := createKafkaSource(t, s, newKafkaSource(ns, source, []string{ownedTopic}, s.servers,
		duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: service},
		func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.InitialOffset = sourcesv1beta1.OffsetEarliest }))
	t.Cleanup(func() { s.deleteKafkaSource(t, ns, source, ks.Spec.ConsumerGroup) })
	waitReady(t, 90*time.Second, "KafkaSource "+ns+"/"+source, kafkaSourceConditions(s, ns, source))
	eventually(t, 60*time.Second, fmt.Sprintf("the subscriber receiving %d events", len(sent)), func() (bool, string) {
		n := len(subscriber.events())
		return n >= len(sent), fmt.Sprintf("%d received", n)
	})
	waitCaughtUp(t, s.admin, ownedTopic, ks.Spec.ConsumerGroup)
	var got, want []string
	for _, d := range subscriber.events() {
		got = append(got, passedThrough(d.event))
	}
	for _, e := range sent {
		want = append(want, passedThrough(e))
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the events the KafkaSource read back from the sink's topic (-posted +delivered):\n%s", diff)
	}
	checkNoUnknownHosts(t, s)

	// 6. A Trigger whose subscriber is the structured sink, by ref: a Broker's events land in the
	// sink's topic, after the ones posted directly.
	createBroker(t, s, newBroker(ns, broker))
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+broker, brokerConditions(s, ns, broker))
	createTrigger(t, s, newTrigger(ns, trigger, broker, nil, func(tr *eventingv1.Trigger) {
		tr.Spec.Subscriber = duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1alpha1", Kind: "KafkaSink", Name: external, Namespace: ns}}
	}))
	waitReady(t, 60*time.Second, "Trigger "+ns+"/"+trigger, triggerConditions(s, ns, trigger))
	tr, err := s.cluster.Eventing.EventingV1().Triggers(ns).Get(ctxFor(t, 30*time.Second), trigger, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Status.SubscriberURI.String(); got != externalAddress.String() {
		t.Errorf("Trigger %s resolved the KafkaSink to %s, want its address %s", trigger, got, externalAddress)
	}
	viaBroker := event("via-broker", "dev.knkafka.e2e.order", "/e2e/broker", map[string]string{"partitionkey": "customer-9"})
	s.mustSend(t, brokerIngressHost, "/"+ns+"/"+broker, viaBroker)
	eventually(t, 60*time.Second, "the Broker's event in the sink's topic", func() (bool, string) {
		n := len(s.readTopic(t, externalTopic))
		return n == len(sent)+1, fmt.Sprintf("%d records", n)
	})
	records := kafkatest.ConsoleConsume(t, s.servers, externalTopic, len(sent)+1)
	checkStructuredRecords(t, records, append(slices.Clone(sent), viaBroker))
	s.deleteBrokerAndTriggers(t, ns, broker, []string{trigger})

	// 7. Deleting the sinks: the owned topic goes, the external one stays.
	s.deleteKafkaSource(t, ns, source, ks.Spec.ConsumerGroup)
	s.deleteKafkaSink(t, ns, owned)
	s.deleteKafkaSink(t, ns, external)
	eventually(t, 60*time.Second, "topic "+ownedTopic+" deleted with its sink", func() (bool, string) {
		_, ok, err := topicPartitions(context.Background(), s.kafka, ownedTopic)
		return !ok && err == nil, fmt.Sprintf("exists=%t err=%v", ok, err)
	})
	if _, ok, err := topicPartitions(ctxFor(t, 30*time.Second), s.kafka, externalTopic); !ok {
		t.Errorf("topic %s the sink did not own was deleted with it (err %v)", externalTopic, err)
	}
}

// passedThrough is what must survive sink → topic → KafkaSource of an event.
func passedThrough(e cloudevents.Event) string {
	key, _ := e.Extensions()["partitionkey"].(string)
	return fmt.Sprintf("id=%s type=%s source=%s partitionkey=%s datacontenttype=%s data=%s", e.ID(), e.Type(), e.Source(), key, e.DataContentType(), e.Data())
}

// checkBinaryRecords checks the console consumer's view of binary-mode records of sent: a ce_
// header per attribute and extension, content-type from datacontenttype, the partitionkey as the
// key and the data as the value.
func checkBinaryRecords(t *testing.T, records []kafkatest.ConsoleRecord, sent []cloudevents.Event) {
	t.Helper()
	byID := map[string]kafkatest.ConsoleRecord{}
	for _, r := range records {
		id, _ := r.Header("ce_id")
		byID[id] = r
	}
	for _, e := range sent {
		r, ok := byID[e.ID()]
		if !ok {
			t.Errorf("binary sink: no record with header ce_id:%s in %+v", e.ID(), records)
			continue
		}
		key := e.Extensions()["partitionkey"].(string)
		want := map[string]string{
			"ce_specversion": "1.0", "ce_id": e.ID(), "ce_type": e.Type(), "ce_source": e.Source(),
			"ce_partitionkey": key, "content-type": "application/json",
		}
		for name, value := range want {
			if got, ok := r.Header(name); !ok || got != value {
				t.Errorf("binary sink, record %s: header %s = %q (present %t), want %q; headers %v", e.ID(), name, got, ok, value, r.Headers)
			}
		}
		if r.Key == nil || *r.Key != key {
			t.Errorf("binary sink, record %s: key %v, want the partitionkey %q", e.ID(), r.Key, key)
		}
		if r.Value != string(e.Data()) {
			t.Errorf("binary sink, record %s: value %q, want the data %q", e.ID(), r.Value, e.Data())
		}
	}
}

// checkStructuredRecords checks the console consumer's view of structured-mode records of sent:
// the one header content-type: application/cloudevents+json, the partitionkey as the key and the
// whole event as JSON in the value.
func checkStructuredRecords(t *testing.T, records []kafkatest.ConsoleRecord, sent []cloudevents.Event) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, r := range records {
		if diff := cmp.Diff([][2]string{{"content-type", "application/cloudevents+json"}}, r.Headers); diff != "" {
			t.Errorf("structured sink: headers (-want +got):\n%s", diff)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(r.Value), &v); err != nil {
			t.Errorf("structured sink: value is not JSON: %v: %s", err, r.Value)
			continue
		}
		if key, _ := v["partitionkey"].(string); r.Key == nil || *r.Key != key {
			t.Errorf("structured sink: key %v, want the partitionkey %q", r.Key, key)
		}
		id, _ := v["id"].(string)
		byID[id] = v
	}
	for _, e := range sent {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var w map[string]any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, byID[e.ID()]); diff != "" {
			t.Errorf("structured sink: the record of %s (-posted +in Kafka):\n%s", e.ID(), diff)
		}
	}
}

// checkSinkStatus fails t unless the sink's status shows its address on the sink ingress and the
// topic owner; it returns the address.
func checkSinkStatus(t *testing.T, s *suite, ns, name, owner string) *apis.URL {
	t.Helper()
	ks, err := s.kafkaClient.EventingV1alpha1().KafkaSinks(ns).Get(ctxFor(t, 30*time.Second), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "http://" + sinkIngressHost + "/" + ns + "/" + name
	if ks.Status.Address == nil || ks.Status.Address.URL.String() != want || len(ks.Status.Addresses) != 1 {
		t.Fatalf("KafkaSink %s/%s status.address = %+v, addresses %+v, want %s", ns, name, ks.Status.Address, ks.Status.Addresses, want)
	}
	if got := ks.Status.Annotations[eventingv1alpha1.TopicOwnerAnnotation]; got != owner {
		t.Errorf("KafkaSink %s/%s topic owner = %q, want %q", ns, name, got, owner)
	}
	return ks.Status.Address.URL
}

// newKafkaSink is a KafkaSink writing to topic on servers, defaulted as our webhook would.
func newKafkaSink(ns, name, topic string, servers []string, opts ...func(*eventingv1alpha1.KafkaSink)) *eventingv1alpha1.KafkaSink {
	ks := &eventingv1alpha1.KafkaSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       eventingv1alpha1.KafkaSinkSpec{Topic: topic, BootstrapServers: servers},
	}
	for _, o := range opts {
		o(ks)
	}
	ks.SetDefaults(context.Background())
	return ks
}

func createKafkaSink(t *testing.T, s *suite, ks *eventingv1alpha1.KafkaSink) {
	t.Helper()
	if err := ks.Validate(context.Background()); err != nil {
		t.Fatalf("KafkaSink %s/%s is not valid: %v", ks.Namespace, ks.Name, err)
	}
	if _, err := s.kafkaClient.EventingV1alpha1().KafkaSinks(ks.Namespace).Create(ctxFor(t, 30*time.Second), ks, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating KafkaSink %s/%s: %v", ks.Namespace, ks.Name, err)
	}
}

func kafkaSinkConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		ks, err := s.kafkaClient.EventingV1alpha1().KafkaSinks(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return ks.Status.Conditions, nil
	}
}

// deleteKafkaSink deletes the KafkaSink and waits until our finalizer ran; a sink already gone is
// fine.
func (s *suite) deleteKafkaSink(t *testing.T, ns, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sinks := s.kafkaClient.EventingV1alpha1().KafkaSinks(ns)
	if err := sinks.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting KafkaSink %s/%s: %v", ns, name, err)
		return
	}
	waitGone(t, 60*time.Second, "KafkaSink "+ns+"/"+name, func(ctx context.Context) error {
		_, err := sinks.Get(ctx, name, metav1.GetOptions{})
		return err
	})
}
