package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumed is a record as a consumer sees it; a nil key and an empty one differ.
type consumed struct {
	Key   *string
	Value string
}

// TestConsoleProducer writes plain and keyed records with Kafka's own console producer and reads
// them back with franz-go: plain lines are records without a key, keyed lines are split at the
// separator (the first one only: the value may hold more).
func TestConsoleProducer(t *testing.T) {
	servers := Bootstrap(t)
	plain, keyed := CreateTopic(t, servers, 1), CreateTopic(t, servers, 1)

	ConsoleProduce(t, servers, plain, `{"id":"p-0"}`, "plain two", "")
	ConsoleProduceKeyed(t, servers, keyed, "::",
		KeyedLine{Key: "user-1", Value: `{"id":"k-0"}`},
		KeyedLine{Key: "user-2", Value: "a::b"},
		KeyedLine{Key: "", Value: "empty key"},
	)

	key := func(s string) *string { return &s }
	for _, tc := range []struct {
		topic string
		want  []consumed
	}{
		{plain, []consumed{{nil, `{"id":"p-0"}`}, {nil, "plain two"}, {nil, ""}}},
		{keyed, []consumed{{key("user-1"), `{"id":"k-0"}`}, {key("user-2"), "a::b"}, {key(""), "empty key"}}},
	} {
		if diff := cmp.Diff(tc.want, consumeAll(t, servers, tc.topic, len(tc.want))); diff != "" {
			t.Errorf("records in %s (-want +got):\n%s", tc.topic, diff)
		}
	}
}

// TestConsoleProducerFailsOnMissingTopic: the helper reports a producer that could not write,
// rather than passing because the JVM ran (auto topic creation is off in hack/kafka.sh).
func TestConsoleProducerFailsOnMissingTopic(t *testing.T) {
	servers := Bootstrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), consoleTimeout)
	defer cancel()
	_, stderr, err := RunTool(ctx, "lost\n", ConsoleProducerClass, "--bootstrap-server", servers[0],
		"--topic", TopicName(t), "--sync", "--producer-property", "max.block.ms=2000")
	if err == nil {
		t.Fatalf("the console producer exited 0 writing to a topic that does not exist; stderr:\n%s", stderr)
	}
	t.Logf("as expected: %v", err)
}

// consumeAll reads the first n records of topic from its start, failing t after 30 s.
func consumeAll(t *testing.T, servers []string, topic string, n int) []consumed {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []consumed
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s within 30 s: %+v", len(got), n, topic, got)
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Errorf("fetching %s: %v", topic, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			c := consumed{Value: string(r.Value)}
			if r.Key != nil {
				k := string(r.Key)
				c.Key = &k
			}
			got = append(got, c)
		})
	}
	return got
}

// TestConsoleConsumer reads with Kafka's own console consumer records franz-go wrote: headers
// (none, one, several) in order, a key or none, and the value.
func TestConsoleConsumer(t *testing.T) {
	servers := Bootstrap(t)
	topic := CreateTopic(t, servers, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: topic, Value: []byte(`{"plain": "no headers, no key"}`)},
		&kgo.Record{Topic: topic, Key: []byte("k-1"), Value: []byte("v, with: punctuation"), Headers: []kgo.RecordHeader{
			{Key: "ce_id", Value: []byte("1")}, {Key: "content-type", Value: []byte("application/json; charset=utf-8")},
		}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	key := "k-1"
	want := []ConsoleRecord{
		{Value: `{"plain": "no headers, no key"}`},
		{Headers: [][2]string{{"ce_id", "1"}, {"content-type", "application/json; charset=utf-8"}}, Key: &key, Value: "v, with: punctuation"},
	}
	if diff := cmp.Diff(want, ConsoleConsume(t, servers, topic, 2)); diff != "" {
		t.Errorf("console consumer (-want +got):\n%s", diff)
	}
}
