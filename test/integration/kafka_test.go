package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/test/kafkatest"
)

func TestRealKafkaTopicsGroupsAndOffsets(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	t.Logf("Apache Kafka %s at %v", kafkatest.Version(), servers)
	roundTrip(t, servers)
}

func TestFakeKafkaTopicsGroupsAndOffsets(t *testing.T) {
	roundTrip(t, kafkatest.Fake(t))
}

// roundTrip creates a topic through kadm, produces records to every partition, consumes them
// in a consumer group, commits, and reads the committed offsets back.
func roundTrip(t *testing.T, servers []string) {
	const partitions, perPartition = 3, 20
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	topic := kafkatest.CreateTopic(t, servers, partitions)
	adm := kafkatest.Admin(t, servers)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	if got := len(details[topic].Partitions); got != partitions {
		t.Fatalf("topic %s has %d partitions, want %d", topic, got, partitions)
	}

	producer, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	want := map[string]bool{}
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			v := fmt.Sprintf("p%d-%d", p, i)
			want[v] = true
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("producing %s: %v", v, err)
			}
		}
	}

	group := "group-" + topic
	consumer, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := map[string]bool{}
	for len(got) < len(want) {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), len(want))
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("consumed records (-want +got):\n%s", diff)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("committing: %v", err)
	}

	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching committed offsets: %v", err)
	}
	for p := int32(0); p < partitions; p++ {
		o, ok := committed.Lookup(topic, p)
		if !ok || o.At != perPartition {
			t.Errorf("partition %d: committed offset %+v (found %v), want %d", p, o.Offset, ok, perPartition)
		}
	}
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("describing group: %v", err)
	}
	if g := groups[group]; g.Err != nil || len(g.Members) != 1 {
		t.Errorf("group %s: err %v, %d members, want 1 member", group, g.Err, len(g.Members))
	}
}
