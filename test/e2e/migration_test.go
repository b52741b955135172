package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

// Status annotations in which Knative's Kafka broker records the names it used, and so do we.
const (
	recordedTopicAnnotation = "default.topic"
	recordedGroupAnnotation = "group.id"
)

// testMigration starts from what Knative's Kafka broker leaves behind when it is stopped — topics
// named by its default templates holding records its receiver wrote, and consumer groups with
// offsets committed part-way and no members — and shows that knkafka, given the same objects,
// resumes each group exactly at its committed offsets: nothing before them is delivered again,
// nothing after them is skipped, and the groups' offsets then advance to the end.
func testMigration(t *testing.T, s *suite) {
	t.Run("Broker", func(t *testing.T) { testBrokerMigration(t, s) })
	t.Run("KafkaChannel", func(t *testing.T) { testChannelMigration(t, s) })
}

// incumbentTrigger is a Trigger whose consumer group the incumbent left with committed offsets.
type incumbentTrigger struct {
	name, group string
	// committed is the offset committed on each partition (index); it ranges from 0 (nothing
	// consumed) to the partition's end (everything consumed).
	committed []int64
	// recorded says the group is not the default template's: the incumbent ran with another
	// triggers-consumergroup-template and recorded the group in the Trigger's status.
	recorded bool
}

func testBrokerMigration(t *testing.T, s *suite) {
	ns := namespace(t, s, "e2e-migration")
	const name, perPartition = "legacy", 5
	const partitions = 10 // as kafka-broker-config asks: the incumbent created the topic from the same ConfigMap
	topic := brokerTopic(ns, name)
	triggers := []incumbentTrigger{{
		name:      "resumer",
		group:     triggerGroup(ns, "resumer"),
		committed: []int64{0, 1, 2, 3, 4, 5, 1, 2, 3, 4},
	}, {
		// The group name of the incumbent's own e2e test of a custom template.
		name:      "renamed",
		group:     "test-" + ns + "-renamed-trigger",
		committed: []int64{5, 4, 3, 2, 1, 0, 0, 5, 2, 2},
		recorded:  true,
	}}
	groups := []string{triggers[0].group, triggers[1].group, triggerGroup(ns, "renamed")}
	s.forgetKafka(t, topic, groups...)
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, name, []string{"resumer", "renamed"}) })

	// What the incumbent leaves: the topic with its receiver's records, and the Triggers' groups
	// Empty with offsets committed part-way on every partition.
	written := s.incumbentTopic(t, topic, partitions, perPartition)
	sinks := map[string]*sink{}
	want := map[string][]string{}
	for _, tr := range triggers {
		s.commitAsIncumbent(t, tr.group, topic, tr.committed)
		want[tr.name] = after(written, tr.committed)
		sinks[tr.name] = newSink(t, "migrated-"+tr.name)
	}
	// The renamed Trigger exists before its Broker, with the group the incumbent recorded in its
	// status; a Trigger of a Broker that does not exist is nobody's yet, so the status stays ours
	// to write.
	renamed := createTrigger(t, s, newTrigger(ns, "renamed", name, sinks["renamed"].url))
	renamed.Status.Annotations = map[string]string{recordedGroupAnnotation: triggers[1].group}
	if _, err := s.cluster.Eventing.EventingV1().Triggers(ns).UpdateStatus(ctxFor(t, 30*time.Second), renamed, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("recording the incumbent's group in Trigger %s/renamed: %v", ns, err)
	}

	// knkafka takes over: the Broker by its default name (not as an external topic), then the
	// other Trigger.
	createBroker(t, s, newBroker(ns, name))
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+name, brokerConditions(s, ns, name))
	b, err := s.cluster.Eventing.EventingV1().Brokers(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Status.Annotations[recordedTopicAnnotation]; got != topic {
		t.Errorf("Broker status.annotations[%s] = %q, want %q", recordedTopicAnnotation, got, topic)
	}
	checkTopicKept(t, s, topic, partitions, perPartition)
	created := map[string]time.Time{"renamed": time.Now(), "resumer": time.Now()}
	createTrigger(t, s, newTrigger(ns, "resumer", name, sinks["resumer"].url))
	s.waitTriggersReady(t, ns, created)
	for _, tr := range triggers {
		got, err := s.cluster.Eventing.EventingV1().Triggers(ns).Get(context.Background(), tr.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if g := got.Status.Annotations[recordedGroupAnnotation]; g != tr.group {
			t.Errorf("Trigger %s status.annotations[%s] = %q, want %q", tr.name, recordedGroupAnnotation, g, tr.group)
		}
	}

	// Events sent after the switch follow the resumed ones.
	fresh := ids("fresh", 5)
	for _, id := range fresh {
		s.mustSend(t, "", "/"+ns+"/"+name, event(id, "e2e.migrated", "/e2e/knkafka", nil))
	}
	for _, tr := range triggers {
		want[tr.name] = append(want[tr.name], fresh...)
		sinks[tr.name].waitFor(t, 60*time.Second, want[tr.name])
	}
	waitCaughtUp(t, s.admin, topic, triggers[0].group, triggers[1].group)
	for _, tr := range triggers {
		sinks[tr.name].checkExactly(t, want[tr.name])
	}
	if slices.Contains(mustListGroups(t, s), triggerGroup(ns, "renamed")) {
		t.Errorf("group %s exists: the renamed Trigger used the default template instead of its recorded group", triggerGroup(ns, "renamed"))
	}

	// Deleting them deletes the groups they used, the recorded one included, and the topic.
	s.deleteBrokerAndTriggers(t, ns, name, []string{"resumer", "renamed"})
	for _, tr := range triggers {
		eventually(t, 60*time.Second, "group "+tr.group+" deleted", func() (bool, string) {
			return groupGone(context.Background(), s.admin, tr.group)
		})
	}
	eventually(t, 60*time.Second, "topic "+topic+" deleted", func() (bool, string) {
		_, ok, err := topicPartitions(context.Background(), s.kafka, topic)
		return !ok && err == nil, fmt.Sprintf("exists=%t err=%v", ok, err)
	})
}

func testChannelMigration(t *testing.T, s *suite) {
	useKnativeCore(t, s)
	ns := namespace(t, s, "e2e-migration-channel")
	const channel, subscription, perPartition = "ledger", "ledger-to-audit", 6
	const partitions = 3
	topic := channelTopic(ns, channel)
	s.forgetKafka(t, topic)
	t.Cleanup(func() { s.deleteSubscriptionAndChannel(t, ns, subscription, channel) })

	written := s.incumbentTopic(t, topic, partitions, perPartition)
	// The Subscription comes first: its UID names its group. Knative's subscription reconciler
	// waits for the channel.
	audit := newSink(t, "migrated-audit")
	sub := createSubscription(t, s, newSubscription(ns, subscription, "messaging.knative.dev/v1beta1", "KafkaChannel", channel, audit.url, nil))
	group := subscriptionGroup(ns, channel, string(sub.UID))
	committed := []int64{0, 3, 6}
	s.commitAsIncumbent(t, group, topic, committed)
	want := after(written, committed)

	createKafkaChannel(t, s, newKafkaChannel(ns, channel, func(kc *messagingv1beta1.KafkaChannel) { kc.Spec.NumPartitions = partitions }))
	waitReady(t, 60*time.Second, "KafkaChannel "+ns+"/"+channel, kafkaChannelConditions(s, ns, channel))
	waitReady(t, 90*time.Second, "Subscription "+ns+"/"+subscription, subscriptionConditions(s, ns, subscription))
	kc, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(context.Background(), channel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := kc.Status.Annotations[recordedTopicAnnotation]; got != topic {
		t.Errorf("KafkaChannel status.annotations[%s] = %q, want %q", recordedTopicAnnotation, got, topic)
	}
	i := slices.IndexFunc(kc.Status.Subscribers, func(st eventingduckv1.SubscriberStatus) bool { return st.UID == sub.UID })
	if i < 0 || kc.Status.Subscribers[i].Ready != corev1.ConditionTrue {
		t.Errorf("KafkaChannel status.subscribers = %+v, want subscriber %s ready", kc.Status.Subscribers, sub.UID)
	}
	checkTopicKept(t, s, topic, partitions, perPartition)

	fresh := ids("fresh", 4)
	for _, id := range fresh {
		s.mustSend(t, hostOf(kc.Status.Address.URL), "/", event(id, "e2e.migrated", "/e2e/knkafka", nil))
	}
	want = append(want, fresh...)
	audit.waitFor(t, 60*time.Second, want)
	waitCaughtUp(t, s.admin, topic, group)
	audit.checkExactly(t, want)
	// Channel subscriptions are ordered: each partition's resumed records arrive in offset order.
	got := audit.ids()
	for p := range partitions {
		prefix := fmt.Sprintf("incumbent-%d-", p)
		var inPartition []string
		for _, id := range got {
			if strings.HasPrefix(id, prefix) {
				inPartition = append(inPartition, id)
			}
		}
		if wantP := after(written[p:p+1], committed[p:p+1]); !slices.Equal(inPartition, wantP) {
			t.Errorf("partition %d delivered %v, want %v in order", p, inPartition, wantP)
		}
	}
}

// incumbentTopic creates topic with the given partitions and writes perPartition records to each,
// as Knative's Kafka broker receiver writes events (see incumbentRecord). It returns the ids
// written, by partition, in offset order.
func (s *suite) incumbentTopic(t *testing.T, topic string, partitions int32, perPartition int) [][]string {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	resp, err := s.admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s as the incumbent did: %v", topic, err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(s.servers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	written := make([][]string, partitions)
	var records []*kgo.Record
	for i := range perPartition {
		for p := range partitions {
			id := fmt.Sprintf("incumbent-%d-%d", p, i)
			written[p] = append(written[p], id)
			records = append(records, incumbentRecord(topic, p, id))
		}
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing the incumbent's records to %s: %v", topic, err)
	}
	return written
}

// incumbentRecord is an event as the incumbent's receiver writes it: the CloudEvents Kafka
// protocol binding in binary mode — the attributes as ce_ headers, the content type as the
// content-type header, the data as the value, and no key without a partitionkey. It is spelled
// out here, not made by our encoder, so the test reads what the incumbent wrote.
func incumbentRecord(topic string, partition int32, id string) *kgo.Record {
	return &kgo.Record{
		Topic:     topic,
		Partition: partition,
		Value:     []byte(`{"id":"` + id + `"}`),
		Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte(id)},
			{Key: "ce_source", Value: []byte("/apis/v1/namespaces/e2e/incumbent")},
			{Key: "ce_type", Value: []byte("e2e.migrated")},
			{Key: "ce_time", Value: []byte("2026-11-30T12:00:00Z")},
			{Key: "content-type", Value: []byte("application/json")},
		},
	}
}

// commitAsIncumbent commits committed[p] on each partition p of topic for group, as a stopped
// incumbent dispatcher leaves it, and checks the group is Empty: no member, only offsets.
func (s *suite) commitAsIncumbent(t *testing.T, group, topic string, committed []int64) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	var offsets kadm.Offsets
	for p, at := range committed {
		offsets.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	// kadm resolves topic IDs from its client's metadata cache, which may not know a topic created
	// a moment ago (it then answers UNKNOWN_TOPIC_OR_PARTITION without asking Kafka): retry.
	eventually(t, 30*time.Second, "committing the incumbent's offsets for "+group, func() (bool, string) {
		resps, err := s.admin.CommitOffsets(ctx, group, offsets)
		if err == nil {
			err = resps.Error()
		}
		return err == nil, fmt.Sprint(err)
	})
	fetched, err := s.admin.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, at := range committed {
		if o, ok := fetched.Lookup(topic, int32(p)); !ok || o.At != at {
			t.Fatalf("group %s partition %d: committed %+v (found %t), want %d", group, p, o, ok, at)
		}
	}
	if state := groupState(ctx, s.admin, group); state != "Empty with 0 members" {
		t.Fatalf("group %s is %s, want Empty with 0 members", group, state)
	}
}

// checkTopicKept fails t unless topic still has its partitions and the incumbent's records from
// offset 0: knkafka found the topic, it did not recreate it.
func checkTopicKept(t *testing.T, s *suite, topic string, partitions int32, perPartition int) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	starts, err := s.admin.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	ends, err2 := s.admin.ListEndOffsets(ctx, topic)
	if err2 == nil {
		err2 = ends.Error()
	}
	if err != nil || err2 != nil {
		t.Fatalf("offsets of %s: %v, %v", topic, err, err2)
	}
	if n := len(ends[topic]); n != int(partitions) {
		t.Errorf("topic %s has %d partitions, want the incumbent's %d", topic, n, partitions)
	}
	ends.Each(func(end kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, end.Partition)
		if start.Offset != 0 || end.Offset < int64(perPartition) {
			t.Errorf("topic %s partition %d holds offsets %d..%d, want the incumbent's records from 0 (at least %d)", topic, end.Partition, start.Offset, end.Offset, perPartition)
		}
	})
}

// after is the ids of written at and after each partition's committed offset.
func after(written [][]string, committed []int64) []string {
	var out []string
	for p, ids := range written {
		out = append(out, ids[committed[p]:]...)
	}
	return out
}

func mustListGroups(t *testing.T, s *suite) []string {
	t.Helper()
	groups, err := listGroups(ctxFor(t, 30*time.Second), s.admin)
	if err != nil {
		t.Fatal(err)
	}
	return groups
}
