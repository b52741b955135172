package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/test/kafkatest"
)

// kafkaEventType is the type of the events a KafkaSource makes of records that are not
// CloudEvents, spelled out as users see it.
const kafkaEventType = "dev.knative.kafka.event"

// kafkaSourceEventSource is the source attribute of the events a KafkaSource makes of topic's
// records.
func kafkaSourceEventSource(ns, name, topic string) string {
	return "/apis/v1/namespaces/" + ns + "/kafkasources/" + name + "#" + topic
}

// testKafkaSourceToKnChannel is the KafkaSource issue's first acceptance flow, as a user types it:
// KafkaChannel the default channel of `default`, `kn channel create kc01`, `kn source list-types`
// listing KafkaSource, a KafkaSource reading topic01 into the KafkaChannel, `kubectl get
// kafkasource` showing it Ready, `kn subscription create sub01`, and a record written with Kafka's
// console producer reaching the subscriber once, as the event the incumbent makes of it.
func testKafkaSourceToKnChannel(t *testing.T, s *suite) {
	kn := useKn(t, s)
	k := useKnativeCore(t, s)
	const ns, channel, subscription, source, group, topic = "default", "kc01", "sub01", "kafka-source01", "knative-group", "topic01"
	s.forgetKafka(t, channelTopic(ns, channel))
	t.Cleanup(func() { s.deleteKnChannel(t, ns, channel, subscription) })
	s.userTopic(t, topic, 3, group)
	t.Cleanup(func() { s.deleteKafkaSource(t, ns, source, group) })

	// 1–2. kn makes a generic Channel that a KafkaChannel backs; kn channel list shows it.
	knDefaultKafkaChannel(t, s, kn, k, ns, channel)
	// 3. kn lists KafkaSource among the source types.
	checkKnListsKafkaSource(t, s, knSourceTypes(t, kn))

	// 4. The KafkaSource, its sink the KafkaChannel, becomes Ready; kubectl get shows it.
	createKafkaSource(t, s, newKafkaSource(ns, source, []string{topic}, s.servers,
		duckv1.KReference{APIVersion: "messaging.knative.dev/v1beta1", Kind: "KafkaChannel", Name: channel},
		func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.ConsumerGroup = group }))
	waitReady(t, 90*time.Second, "KafkaSource "+ns+"/"+source, kafkaSourceConditions(s, ns, source))
	checkSinkURI(t, s, ns, source, channelAddress(ns, channel))
	checkKubectlGetKafkaSource(t, s, ns, source, []string{topic})
	checkScaleReplicas(t, s, ns, source, 1)

	// 5. kn subscribes a subscriber to the KafkaChannel.
	subscriber := newSink(t, "kafka-source01-subscriber")
	kn.run(t, "subscription", "create", subscription, "--namespace", ns,
		"--channel", "messaging.knative.dev:v1beta1:KafkaChannel:"+channel, "--sink", subscriber.url.String())
	waitReady(t, 60*time.Second, "Subscription "+ns+"/"+subscription, subscriptionConditions(s, ns, subscription))
	sub, err := s.cluster.Eventing.MessagingV1().Subscriptions(ns).Get(ctxFor(t, 30*time.Second), subscription, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// 6. A record written with the console producer reaches the subscriber, once, as the event
	// the source makes of the record Kafka stored.
	const value = `{"msg": "hi from kafka"}`
	kafkatest.ConsoleProduce(t, s.servers, topic, value)
	records := s.readTopic(t, topic)
	if len(records) != 1 {
		t.Fatalf("topic %s holds %d records, want the one the console producer wrote", topic, len(records))
	}
	r := records[0]
	eventually(t, 60*time.Second, "the subscriber receiving the record's event", func() (bool, string) {
		return len(subscriber.events()) > 0, "nothing yet"
	})
	waitCaughtUp(t, s.admin, topic, group)
	waitCaughtUp(t, s.admin, channelTopic(ns, channel), subscriptionGroup(ns, channel, string(sub.UID)))

	got := subscriber.events()
	if len(got) != 1 {
		t.Fatalf("the subscriber received %d events, want the record's once: %v", len(got), got)
	}
	want := recordEvent{
		Type:    kafkaEventType,
		Source:  kafkaSourceEventSource(ns, source, topic),
		Subject: fmt.Sprintf("partition:%d#%d", r.Partition, r.Offset),
		ID:      fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset),
		Time:    r.Timestamp.UTC().Truncate(time.Millisecond),
		Data:    value,
	}
	if diff := cmp.Diff(want, recordEventOf(got[0])); diff != "" {
		t.Errorf("the subscriber's event of the record at partition %d offset %d (-want +got):\n%s", r.Partition, r.Offset, diff)
	}
	checkNoUnknownHosts(t, s)
}

// testKafkaSourceToBroker is the KafkaSource issue's second acceptance flow: a Kafka Broker
// configured by a ConfigMap in its own namespace, a KafkaSource reading `notifications` and
// `loggings` into it, and an ordered Trigger on the events of `notifications` whose subscriber is a
// Service at a path. The records of `notifications` (keyed, from the console producer) reach the
// subscriber there, each once and in order per partition; those of `loggings` reach the Broker and
// no further.
func testKafkaSourceToBroker(t *testing.T, s *suite) {
	const ns, broker, source, trigger, service = "default", "default", "kafka-source02", "notifications", "notifications-display"
	const notifications, loggings = "notifications", "loggings"
	brokerTopicName := brokerTopic(ns, broker)
	s.forgetKafka(t, brokerTopicName, triggerGroup(ns, trigger))
	// The subscriber: a Service (gone after the Trigger) whose cluster hostname the shim serves.
	subscriber := newSink(t, service)
	s.createService(t, ns, service)
	s.dns.registerService(t, ns, service, subscriber.url.String())
	t.Cleanup(func() { s.deleteBrokerConfig(t, ns) })
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, broker, []string{trigger}) })

	// 1. The Broker, configured by kafka-broker-config in its own namespace.
	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, ns, "kafka-broker-config", map[string]string{
		"default.topic.partitions":         "10",
		"default.topic.replication.factor": "1",
		"bootstrap.servers":                strings.Join(s.servers, ","),
	}); err != nil {
		t.Fatal(err)
	}
	createBroker(t, s, newBroker(ns, broker, func(b *eventingv1.Broker) { b.Spec.Config.Namespace = ns }))
	eventually(t, 60*time.Second, "topic "+brokerTopicName+" with 10 partitions", func() (bool, string) {
		n, ok, err := topicPartitions(context.Background(), s.kafka, brokerTopicName)
		return ok && n == 10, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
	})
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+broker, brokerConditions(s, ns, broker))

	// 2. The KafkaSource reading both topics into the Broker.
	s.userTopic(t, notifications, 3)
	s.userTopic(t, loggings, 2)
	ks := createKafkaSource(t, s, newKafkaSource(ns, source, []string{notifications, loggings}, s.servers,
		duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: broker}))
	group := ks.Spec.ConsumerGroup
	t.Cleanup(func() { s.deleteKafkaSource(t, ns, source, group) })
	waitReady(t, 90*time.Second, "KafkaSource "+ns+"/"+source, kafkaSourceConditions(s, ns, source))
	checkSinkURI(t, s, ns, source, brokerAddress(ns, broker))
	checkKubectlGetKafkaSource(t, s, ns, source, []string{notifications, loggings})

	// 3. The ordered Trigger on the events of notifications, its subscriber a Service's path.
	subscriberURL := "http://" + serviceHost(ns, service) + "/events/notifications"
	createTrigger(t, s, newTrigger(ns, trigger, broker, &apis.URL{Path: "/events/notifications"},
		withFilter(map[string]string{"source": kafkaSourceEventSource(ns, source, notifications)}), withOrdered,
		func(tr *eventingv1.Trigger) {
			tr.Spec.Subscriber.Ref = &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: service, Namespace: ns}
		}))
	waitReady(t, 60*time.Second, "Trigger "+ns+"/"+trigger, triggerConditions(s, ns, trigger))
	tr, err := s.cluster.Eventing.EventingV1().Triggers(ns).Get(ctxFor(t, 30*time.Second), trigger, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Status.SubscriberURI.String(); got != subscriberURL {
		t.Errorf("Trigger %s resolved its subscriber to %s, want %s", trigger, got, subscriberURL)
	}

	// 4. Keyed records to notifications, unkeyed ones to loggings.
	var lines []kafkatest.KeyedLine
	for seq := range 6 {
		for _, user := range []string{"alice", "bob", "carol", "dave"} {
			lines = append(lines, kafkatest.KeyedLine{Key: user, Value: fmt.Sprintf(`{"user":%q,"seq":%d}`, user, seq)})
		}
	}
	kafkatest.ConsoleProduceKeyed(t, s.servers, notifications, ":", lines...)
	kafkatest.ConsoleProduce(t, s.servers, loggings, `{"level":"info","n":0}`, `{"level":"info","n":1}`, `{"level":"warn","n":2}`)
	notified, logged := s.readTopic(t, notifications), s.readTopic(t, loggings)
	if len(notified) != len(lines) || len(logged) != 3 {
		t.Fatalf("topics %s and %s hold %d and %d records, want the %d and 3 the console producer wrote", notifications, loggings, len(notified), len(logged), len(lines))
	}
	eventually(t, 60*time.Second, fmt.Sprintf("the subscriber receiving %d events", len(notified)), func() (bool, string) {
		n := len(subscriber.events())
		return n >= len(notified), fmt.Sprintf("%d received", n)
	})
	waitCaughtUp(t, s.admin, notifications, group)
	waitCaughtUp(t, s.admin, loggings, group)
	waitCaughtUp(t, s.admin, brokerTopicName, triggerGroup(ns, trigger))

	// Every record of both topics reached the Broker once: the loggings ones were filtered out
	// after the Broker, not lost before it.
	inBroker := s.readTopic(t, brokerTopicName)
	checkOnceInBroker(t, inBroker, append(slices.Clone(notified), logged...), ns, source)

	// The subscriber got each notifications record once, at its path, as the source makes it;
	// in order within each key and within each partition of the Broker's topic it came from.
	got := subscriber.events()
	var want, gotEvents []recordEvent
	for _, r := range notified {
		want = append(want, recordEvent{
			Type:    kafkaEventType,
			Source:  kafkaSourceEventSource(ns, source, notifications),
			Subject: fmt.Sprintf("partition:%d#%d", r.Partition, r.Offset),
			ID:      fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset),
			Time:    r.Timestamp.UTC().Truncate(time.Millisecond),
			Key:     string(r.Key),
			Data:    string(r.Value),
			Path:    "/events/notifications",
		})
	}
	for _, d := range got {
		gotEvents = append(gotEvents, recordEventOf(d))
	}
	byID := func(a, b recordEvent) int { return strings.Compare(a.Source+a.ID, b.Source+b.ID) }
	slices.SortFunc(want, byID)
	slices.SortFunc(gotEvents, byID)
	if diff := cmp.Diff(want, gotEvents); diff != "" {
		t.Errorf("the events of notifications at the subscriber, each once and nothing else (-want +got):\n%s", diff)
	}
	checkKeyOrder(t, got, lines)
	checkPartitionOrder(t, got, inBroker)
	checkNoUnknownHosts(t, s)
}

// recordEvent is what the flows check of an event a KafkaSource made of a record.
type recordEvent struct {
	Type, Source, Subject, ID string
	Time                      time.Time
	// Key is the key and partitionkey extensions, when they agree.
	Key, Data, Path string
}

func recordEventOf(d delivered) recordEvent {
	e := d.event
	ext := e.Extensions()
	key := fmt.Sprint(ext["key"])
	if ext["key"] == nil {
		key = ""
	}
	if pk := fmt.Sprint(ext["partitionkey"]); (ext["partitionkey"] != nil || ext["key"] != nil) && pk != key {
		key = fmt.Sprintf("key %v but partitionkey %v", ext["key"], ext["partitionkey"])
	}
	path := d.path
	if path == "/" {
		path = ""
	}
	return recordEvent{Type: e.Type(), Source: e.Source(), Subject: e.Subject(), ID: e.ID(),
		Time: e.Time().UTC(), Key: key, Data: string(e.Data()), Path: path}
}

// checkKeyOrder fails t unless the subscriber got each key's records in the order they were
// written.
func checkKeyOrder(t *testing.T, got []delivered, written []kafkatest.KeyedLine) {
	t.Helper()
	want, arrived := map[string][]string{}, map[string][]string{}
	for _, l := range written {
		want[l.Key] = append(want[l.Key], l.Value)
	}
	for _, d := range got {
		k := fmt.Sprint(d.event.Extensions()["key"])
		arrived[k] = append(arrived[k], string(d.event.Data()))
	}
	if diff := cmp.Diff(want, arrived); diff != "" {
		t.Errorf("the values of each key, in the order the subscriber got them (-written +arrived):\n%s", diff)
	}
}

// checkPartitionOrder fails t unless, for each partition of the Broker's topic, the subscriber got
// its events in offset order: what an ordered Trigger promises.
func checkPartitionOrder(t *testing.T, got []delivered, inBroker []*kgo.Record) {
	t.Helper()
	type at struct {
		partition int32
		offset    int64
	}
	where := map[string]at{}
	for _, r := range inBroker {
		where[header(r, "ce_source")+" "+header(r, "ce_id")] = at{r.Partition, r.Offset}
	}
	last := map[int32]int64{}
	var wrong []string
	for i, d := range got {
		w, ok := where[d.event.Source()+" "+d.event.ID()]
		if !ok {
			wrong = append(wrong, fmt.Sprintf("delivery %d (%s %s) is not in the Broker's topic", i, d.event.Source(), d.event.ID()))
			continue
		}
		if prev, seen := last[w.partition]; seen && w.offset <= prev {
			wrong = append(wrong, fmt.Sprintf("delivery %d is partition %d offset %d, after offset %d", i, w.partition, w.offset, prev))
		}
		last[w.partition] = w.offset
	}
	if len(wrong) > 0 {
		t.Errorf("an ordered Trigger delivers each partition of the Broker's topic in offset order; %d of %d deliveries do not follow it: %v",
			len(wrong), len(got), firstN(wrong, 8))
	}
	t.Logf("the ordered Trigger's events came from %d partitions of the Broker's topic", len(last))
}

// checkOnceInBroker fails t unless the Broker's topic holds one event for each record the
// source read, and no other.
func checkOnceInBroker(t *testing.T, inBroker, read []*kgo.Record, ns, source string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range inBroker {
		count[header(r, "ce_source")+" "+header(r, "ce_id")]++
	}
	want := map[string]int{}
	for _, r := range read {
		want[kafkaSourceEventSource(ns, source, r.Topic)+" "+fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset)] = 1
	}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("the events in the Broker's topic, by source and id, each once (-want +got):\n%s", diff)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkNoUnknownHosts fails t when the data plane asked the cluster DNS shim for a host nothing
// serves: a sink resolved to an address the flow did not expect.
func checkNoUnknownHosts(t *testing.T, s *suite) {
	t.Helper()
	if u := s.dns.unknownHosts(); len(u) > 0 {
		t.Errorf("the data plane sent requests to hosts nothing serves: %v", firstN(u, 10))
	}
}

// newKafkaSource is a v1beta1 KafkaSource reading topics from servers into sink (in its own
// namespace), defaulted as our webhook would.
func newKafkaSource(ns, name string, topics, servers []string, sink duckv1.KReference, opts ...func(*sourcesv1beta1.KafkaSource)) *sourcesv1beta1.KafkaSource {
	ks := &sourcesv1beta1.KafkaSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1beta1", Kind: "KafkaSource"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcesv1beta1.KafkaSourceSpec{
			BootstrapServers: servers,
			Topics:           topics,
			SourceSpec:       duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &sink}},
		},
	}
	for _, o := range opts {
		o(ks)
	}
	ks.SetDefaults(context.Background())
	return ks
}

func createKafkaSource(t *testing.T, s *suite, ks *sourcesv1beta1.KafkaSource) *sourcesv1beta1.KafkaSource {
	t.Helper()
	out, err := s.kafkaClient.SourcesV1beta1().KafkaSources(ks.Namespace).Create(ctxFor(t, 30*time.Second), ks, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating KafkaSource %s/%s: %v", ks.Namespace, ks.Name, err)
	}
	return out
}

func kafkaSourceConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		ks, err := s.kafkaClient.SourcesV1beta1().KafkaSources(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return ks.Status.Conditions, nil
	}
}

// checkSinkURI fails t unless the KafkaSource resolved its sink to want.
func checkSinkURI(t *testing.T, s *suite, ns, name, want string) {
	t.Helper()
	ks, err := s.kafkaClient.SourcesV1beta1().KafkaSources(ns).Get(ctxFor(t, 30*time.Second), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Status.SinkURI.String(); got != want {
		t.Errorf("KafkaSource %s/%s status.sinkUri = %s, want %s", ns, name, got, want)
	}
}

// getKafkaSources sends an authenticated GET for the KafkaSources of ns, plus suffix ("/<name>/scale"),
// accepting accept when it is not empty; the caller closes the response's body.
func getKafkaSources(t *testing.T, s *suite, ns, suffix, accept string) *http.Response {
	t.Helper()
	cfg := s.cluster.Config()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctxFor(t, 30*time.Second), http.MethodGet,
		strings.TrimSuffix(cfg.Host, "/")+"/apis/sources.knative.dev/v1beta1/namespaces/"+ns+"/kafkasources"+suffix, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// checkScaleReplicas checks the KafkaSource's scale subresource, as `kubectl scale` and autoscalers
// read it: spec.consumers asked for and, the source being served, as many reported running.
func checkScaleReplicas(t *testing.T, s *suite, ns, name string, want int32) {
	t.Helper()
	resp := getKafkaSources(t, s, ns, "/"+name+"/scale", "")
	defer resp.Body.Close()
	var scale struct {
		Spec   struct{ Replicas int32 } `json:"spec"`
		Status struct{ Replicas int32 } `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&scale); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET kafkasources/%s/scale: %s, %v", name, resp.Status, err)
	}
	if scale.Spec.Replicas != want || scale.Status.Replicas != want {
		t.Errorf("KafkaSource %s/%s scale: spec.replicas %d, status.replicas %d; want %d and %d", ns, name,
			scale.Spec.Replicas, scale.Status.Replicas, want, want)
	}
}

// checkKubectlGetKafkaSource asks the apiserver for the KafkaSources of ns as a Table, as `kubectl
// get kafkasource` does, and fails t unless it has kubectl's columns and the row of name shows
// its topics and bootstrap servers and that it is Ready.
func checkKubectlGetKafkaSource(t *testing.T, s *suite, ns, name string, topics []string) {
	t.Helper()
	resp := getKafkaSources(t, s, ns, "", "application/json;as=Table;v=v1;g=meta.k8s.io")
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil || resp.StatusCode != http.StatusOK || table.Kind != "Table" {
		t.Fatalf("GET kafkasources as a Table: %s, kind %q, %v", resp.Status, table.Kind, err)
	}
	var columns []string
	for _, c := range table.ColumnDefinitions {
		columns = append(columns, strings.ToUpper(c.Name)) // kubectl prints the names upper-cased
	}
	if diff := cmp.Diff([]string{"NAME", "TOPICS", "BOOTSTRAPSERVERS", "READY", "REASON", "AGE"}, columns); diff != "" {
		t.Errorf("kubectl get kafkasource columns (-want +got):\n%s", diff)
	}
	jsonList := func(v []string) string { b, _ := json.Marshal(v); return string(b) }
	want := []any{name, jsonList(topics), jsonList(s.servers), "True", ""}
	for _, row := range table.Rows {
		if len(row.Cells) != len(columns) || row.Cells[0] != name {
			continue
		}
		got := slices.Clone(row.Cells[:5])
		if got[4] == nil {
			got[4] = "" // kubectl prints a missing reason as an empty cell
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kubectl get kafkasource: the row of %s (-want +got):\n%s", name, diff)
		}
		if age, _ := row.Cells[5].(string); age == "" {
			t.Errorf("kubectl get kafkasource: %s has no AGE: %v", name, row.Cells)
		}
		t.Logf("kubectl get kafkasource: %v / %v", columns, row.Cells)
		return
	}
	t.Errorf("kubectl get kafkasource has no row for %s: %v", name, table.Rows)
}

// userTopic creates topic with partitions, as a user of a KafkaSource does beforehand, after
// deleting it and groups when an earlier run left them; it deletes it when t ends.
func (s *suite) userTopic(t *testing.T, topic string, partitions int32, groups ...string) {
	t.Helper()
	s.forgetKafka(t, topic, groups...)
	ctx := ctxFor(t, 60*time.Second)
	resp, err := s.admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.admin.DeleteTopics(ctx, topic); err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		}
	})
	eventually(t, 30*time.Second, fmt.Sprintf("topic %s with %d partitions led", topic, partitions), func() (bool, string) {
		md, err := s.admin.Metadata(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil || len(td.Partitions) != int(partitions) {
			return false, fmt.Sprintf("%+v", td)
		}
		for _, p := range td.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false, fmt.Sprintf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, ""
	})
}

// readTopic returns every record of topic, read with a client of its own from the start of each
// partition to the end offsets it had when called, in partition and offset order.
func (s *suite) readTopic(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	ends, err := s.admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.servers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var records []*kgo.Record
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: still missing up to offsets %v: %v", topic, remaining, ctx.Err())
		}
		fetches.EachError(func(_ string, p int32, err error) { t.Logf("reading %s partition %d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset < end {
				records = append(records, r)
				if r.Offset == end-1 {
					delete(remaining, r.Partition)
				}
			}
		})
	}
	slices.SortFunc(records, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return records
}

// createService creates the v1 Service ns/name, so that Knative's resolver accepts a reference to
// it, and deletes it when t ends. Nothing backs it here; the cluster DNS shim serves its host.
func (s *suite) createService(t *testing.T, ns, name string) {
	t.Helper()
	services := s.cluster.Kube.CoreV1().Services(ns)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := services.Create(ctxFor(t, 30*time.Second), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := services.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Service %s/%s: %v", ns, name, err)
		}
	})
}

// deleteKafkaSource deletes the KafkaSource, waits for our finalizer, then — unless group is
// empty — deletes its consumer group, which the dispatchers left (Kafka keeps a group's offsets; a next run starts afresh).
func (s *suite) deleteKafkaSource(t *testing.T, ns, name, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sources := s.kafkaClient.SourcesV1beta1().KafkaSources(ns)
	if err := sources.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting KafkaSource %s/%s: %v", ns, name, err)
	}
	for ctx.Err() == nil {
		if _, err := sources.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(poll)
	}
	if ctx.Err() != nil {
		t.Errorf("KafkaSource %s/%s was not deleted within 60 s of the end of the test", ns, name)
		return
	}
	if group == "" {
		return // its group lives on a cluster of the test's own, which goes with the test
	}
	// The dispatcher leaves the group shortly after the entry leaves the contract.
	for ctx.Err() == nil {
		resp, err := s.admin.DeleteGroups(ctx, group)
		if err == nil {
			err = resp.Error()
		}
		if err == nil || errors.Is(err, kerr.GroupIDNotFound) {
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("consumer group %s of KafkaSource %s/%s not deletable within 60 s (still in use?)", group, ns, name)
}

// deleteBrokerConfig deletes the kafka-broker-config of ns once its Broker is gone.
func (s *suite) deleteBrokerConfig(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.cluster.Kube.CoreV1().ConfigMaps(ns).Delete(ctx, "kafka-broker-config", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting ConfigMap %s/kafka-broker-config: %v", ns, err)
	}
}
