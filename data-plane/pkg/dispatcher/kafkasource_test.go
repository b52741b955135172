package dispatcher

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// ceAttributes flattens what a subscriber received: attributes, extensions and data as text.
func ceAttributes(e *event.Event) map[string]string {
	m := map[string]string{"specversion": e.SpecVersion(), "id": e.ID(), "source": e.Source(), "type": e.Type()}
	for k, v := range map[string]string{"subject": e.Subject(), "datacontenttype": e.DataContentType(), "data": string(e.Data())} {
		if v != "" {
			m[k] = v
		}
	}
	if !e.Time().IsZero() {
		m["time"] = e.Time().UTC().Format(time.RFC3339Nano)
	}
	for k, v := range e.Extensions() {
		m[k], _ = types.ToString(v)
	}
	return m
}

// bySourceAndID indexes received events by source and id (ids repeat across topics).
func bySourceAndID(got []received) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range got {
		out[r.event.Source()+" "+r.id] = ceAttributes(r.event)
	}
	return out
}

// positionOf reads "partition:<p>/offset:<o>", the id of a converted record.
func positionOf(t *testing.T, id string) (partition int32, offset int64) {
	t.Helper()
	if _, err := fmt.Sscanf(id, "partition:%d/offset:%d", &partition, &offset); err != nil {
		t.Fatalf("id %q is not a converted record's: %v", id, err)
	}
	return partition, offset
}

func TestKafkaSourceDeliversConvertedEventsFromTwoTopics(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topicA := kafkatest.CreateTopic(t, servers, 1)
	topicB := kafkatest.CreateTopic(t, servers, 2)
	sub := newSubscriber(t, nil)
	d := newDispatcher(t)
	eg := newEgress(t, "src", sub.URL)
	src := &contract.Source{EventSource: sourceOf("src"), KeyType: contract.KeyInt, Extensions: map[string]string{"team": "blue"}}
	apply(t, d, newSourceContract(servers, []string{topicA, topicB}, src, eg))
	waitReady(t, d, eg.UID)

	p := newProducer(t, servers)
	at := time.UnixMilli(1700000000123)
	plain := produceRecord(t, p, &kgo.Record{Topic: topicA, Partition: 0, Timestamp: at, Key: binary.BigEndian.AppendUint32(nil, 7),
		Value: []byte("hello"), Headers: []kgo.RecordHeader{{Key: "X-Color", Value: []byte("red")}, {Key: "content-type", Value: []byte("text/plain")}}})
	structured := produceRecord(t, p, &kgo.Record{Topic: topicA, Partition: 0, Timestamp: at,
		Value:   []byte(`{"specversion":"1.0","id":"s-1","source":"/producer","type":"structured.type","datacontenttype":"application/json","data":{"x":1}}`),
		Headers: []kgo.RecordHeader{{Key: cekafka.HeaderContentType, Value: []byte("application/cloudevents+json")}}})
	bin := produce(t, p, topicB, 1, newEvent("b-1", "binary.type", "myext", "v"))
	tombstone := produceRecord(t, p, &kgo.Record{Topic: topicB, Partition: 0, Timestamp: at, Key: binary.BigEndian.AppendUint64(nil, ^uint64(0))})

	eventually(t, "four events", func() bool { return sub.count() >= 4 })
	pos := func(p int32, o int64) map[string]string {
		return map[string]string{"knativekafkapartition": fmt.Sprint(p), "knativekafkaoffset": fmt.Sprint(o), "team": "blue"}
	}
	with := func(m map[string]string, more map[string]string) map[string]string {
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	converted := func(topic string, p int32, o int64) map[string]string {
		return with(map[string]string{
			"specversion": "1.0", "id": fmt.Sprintf("partition:%d/offset:%d", p, o), "source": sourceOf("src") + "#" + topic,
			"type": "dev.knative.kafka.event", "subject": fmt.Sprintf("partition:%d#%d", p, o), "time": "2023-11-14T22:13:20.123Z",
		}, pos(p, o))
	}
	want := map[string]map[string]string{
		sourceOf("src") + "#" + topicA + " " + fmt.Sprintf("partition:0/offset:%d", plain): with(converted(topicA, 0, plain), map[string]string{
			"key": "7", "partitionkey": "7", "kafkaheaderxcolor": "red", "datacontenttype": "text/plain", "data": "hello"}),
		"/producer s-1": with(map[string]string{"specversion": "1.0", "id": "s-1", "source": "/producer", "type": "structured.type",
			"datacontenttype": "application/json", "data": `{"x":1}`}, pos(0, structured)),
		"/test b-1": with(map[string]string{"specversion": "1.0", "id": "b-1", "source": "/test", "type": "binary.type",
			"myext": "v", "datacontenttype": "application/json", "data": `{"id":"b-1"}`}, pos(1, bin)),
		sourceOf("src") + "#" + topicB + " " + fmt.Sprintf("partition:0/offset:%d", tombstone): with(converted(topicB, 0, tombstone), map[string]string{
			"key": "-1", "partitionkey": "-1"}),
	}
	got := sub.received()
	if len(got) != 4 {
		t.Errorf("got %d deliveries, want 4", len(got))
	}
	if diff := cmp.Diff(want, bySourceAndID(got)); diff != "" {
		t.Errorf("delivered events (-want +got):\n%s", diff)
	}
	adm := kafkatest.Admin(t, servers)
	eventually(t, "both topics committed", func() bool {
		a, b := committed(t, adm, eg.ConsumerGroup, topicA), committed(t, adm, eg.ConsumerGroup, topicB)
		return a[0] == structured+1 && b[0] == tombstone+1 && b[1] == bin+1
	})
}

func TestKafkaSourceReportsMissingTopicsByName(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	present := kafkatest.CreateTopic(t, servers, 1)
	missing := kafkatest.TopicName(t)
	sub := newSubscriber(t, nil)
	d := newDispatcher(t, RetryInterval(50*time.Millisecond))
	eg := newEgress(t, "missing", sub.URL)
	apply(t, d, newSourceContract(servers, []string{present, missing}, nil, eg))
	eventually(t, "TopicNotFound naming the missing topic", func() bool {
		st := d.Status()[eg.UID]
		return st.Reason == ReasonTopicNotFound && strings.Contains(st.Message, missing)
	})
	if st := d.Status()[eg.UID]; st.Ready || strings.Contains(st.Message, present) {
		t.Errorf("status = %+v, want not ready and naming only %s", st, missing)
	}

	adm := kafkatest.Admin(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, missing); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), missing) })
	waitReady(t, d, eg.UID)
}

// commitFor commits offset for partition 0 of topic under group, as an earlier consumer would have.
func commitFor(t *testing.T, adm *kadm.Client, group, topic string, offset int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.AddOffset(topic, 0, offset, -1)
	resp, err := adm.CommitOffsets(ctx, group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("committing %d for %s: %v", offset, group, err)
	}
}

// offsetsDelivered returns the offsets of the converted records sub received, per partition.
func offsetsDelivered(t *testing.T, sub *subscriber) map[int32][]int64 {
	out := map[int32][]int64{}
	for _, r := range sub.received() {
		p, o := positionOf(t, r.id)
		out[p] = append(out[p], o)
	}
	return out
}

func TestKafkaSourceInitialOffset(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	adm := kafkatest.Admin(t, servers)
	// fill writes three records to each of partitions partitions of a new topic.
	fill := func(t *testing.T, partitions int32) string {
		topic := kafkatest.CreateTopic(t, servers, partitions)
		p := newProducer(t, servers)
		for i := range 3 {
			for part := range partitions {
				produceRaw(t, p, topic, part, fmt.Sprint("old-", i))
			}
		}
		return topic
	}
	start := func(t *testing.T, topic string, initial contract.InitialOffset, before func(group string)) (*subscriber, contract.Egress) {
		sub := newSubscriber(t, nil)
		eg := newEgress(t, "initial", sub.URL, withOrder(contract.Ordered), withInitialOffset(initial))
		if before != nil {
			before(eg.ConsumerGroup)
		}
		d := newDispatcher(t)
		apply(t, d, newSourceContract(servers, []string{topic}, nil, eg))
		waitReady(t, d, eg.UID)
		return sub, eg
	}

	t.Run("earliest starts a new group at the log start offset", func(t *testing.T) {
		topic := fill(t, 2)
		// Partition 0's log starts at 1 once its first record is deleted.
		var del kadm.Offsets
		del.AddOffset(topic, 0, 1, -1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if resp, err := adm.DeleteRecords(ctx, del); err != nil || resp.Error() != nil {
			t.Fatalf("deleting records: %v %v", err, resp.Error())
		}
		sub, eg := start(t, topic, contract.OffsetEarliest, nil)
		// Ready means both start offsets were committed: a restart could not skip anything.
		if c := committed(t, adm, eg.ConsumerGroup, topic); len(c) != 2 {
			t.Errorf("committed right after Ready = %v, want both partitions", c)
		}
		eventually(t, "five records", func() bool { return sub.count() >= 5 })
		want := map[int32][]int64{0: {1, 2}, 1: {0, 1, 2}}
		if diff := cmp.Diff(want, offsetsDelivered(t, sub)); diff != "" {
			t.Errorf("delivered offsets (-want +got):\n%s", diff)
		}
		eventually(t, "all committed", func() bool {
			return cmp.Equal(committed(t, adm, eg.ConsumerGroup, topic), map[int32]int64{0: 3, 1: 3})
		})
	})

	t.Run("latest starts a new group at the end", func(t *testing.T) {
		topic := fill(t, 2)
		sub, eg := start(t, topic, contract.OffsetLatest, nil)
		if diff := cmp.Diff(map[int32]int64{0: 3, 1: 3}, committed(t, adm, eg.ConsumerGroup, topic)); diff != "" {
			t.Errorf("committed right after Ready (-want +got):\n%s", diff)
		}
		p := newProducer(t, servers)
		produceRaw(t, p, topic, 0, "new")
		produceRaw(t, p, topic, 1, "new")
		eventually(t, "two new records", func() bool { return sub.count() >= 2 })
		time.Sleep(300 * time.Millisecond) // anything older would have come first (ordered); give strays a moment
		if diff := cmp.Diff(map[int32][]int64{0: {3}, 1: {3}}, offsetsDelivered(t, sub)); diff != "" {
			t.Errorf("delivered offsets (-want +got):\n%s", diff)
		}
	})

	for _, initial := range []contract.InitialOffset{contract.OffsetEarliest, contract.OffsetLatest} {
		t.Run("a group with committed offsets resumes there with "+string(initial), func(t *testing.T) {
			topic := fill(t, 1)
			sub, eg := start(t, topic, initial, func(group string) { commitFor(t, adm, group, topic, 1) })
			eventually(t, "two records", func() bool { return sub.count() >= 2 })
			produceRaw(t, newProducer(t, servers), topic, 0, "new")
			eventually(t, "the new record", func() bool { return sub.count() >= 3 })
			if diff := cmp.Diff(map[int32][]int64{0: {1, 2, 3}}, offsetsDelivered(t, sub)); diff != "" {
				t.Errorf("delivered offsets (-want +got):\n%s", diff)
			}
			eventually(t, "committed", func() bool { return committed(t, adm, eg.ConsumerGroup, topic)[0] == 4 })
		})
	}
}

func TestKafkaSourceDeadLettersWhileTheSinkIsDown(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connections are refused from now on
	release := make(chan struct{})
	var once sync.Once
	dls := newSubscriber(t, func(http.ResponseWriter, received) int {
		select { // hold the first dead letter until the test looked at the commits
		case <-release:
		case <-time.After(waitTimeout):
		}
		return http.StatusAccepted
	})
	defer once.Do(func() { close(release) })
	d := newDispatcher(t)
	eg := newEgress(t, "down", down.URL, withOrder(contract.Ordered), withDeadLetter(dls.URL),
		withDelivery(contract.Delivery{Retry: 2, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(10 * time.Millisecond)}))
	apply(t, d, newSourceContract(servers, []string{topic}, nil, eg))
	waitReady(t, d, eg.UID)
	adm := kafkatest.Admin(t, servers)
	start := committed(t, adm, eg.ConsumerGroup, topic)[0]

	p := newProducer(t, servers)
	for i := range 3 {
		produceRaw(t, p, topic, 0, fmt.Sprint("r-", i))
	}
	// The first record is with the dead-letter sink: nothing may be committed for several
	// commit intervals.
	eventually(t, "the first dead letter in flight", func() bool {
		dls.mu.Lock()
		defer dls.mu.Unlock()
		return dls.inFlight == 1
	})
	for range 5 {
		time.Sleep(150 * time.Millisecond)
		if got := committed(t, adm, eg.ConsumerGroup, topic)[0]; got != start {
			t.Fatalf("committed %d while the first record was still with the dead-letter sink, want %d", got, start)
		}
	}
	once.Do(func() { close(release) })
	eventually(t, "three dead letters", func() bool { return dls.count() == 3 })
	eventually(t, "committed after dead-lettering", func() bool {
		return committed(t, adm, eg.ConsumerGroup, topic)[0] == start+3
	})
	for i, r := range dls.received() {
		if want := fmt.Sprintf("partition:0/offset:%d", start+int64(i)); r.id != want {
			t.Errorf("dead letter %d is %s, want %s", i, r.id, want)
		}
		if got := r.header.Get("Ce-Knativeerrordest"); got != down.URL {
			t.Errorf("dead letter %s: knativeerrordest = %q, want %q", r.id, got, down.URL)
		}
		if got := string(r.event.Data()); got != fmt.Sprint("r-", i) {
			t.Errorf("dead letter %s: data %q, want r-%d", r.id, got, i)
		}
	}
}

func TestKafkaSourceOrderedKeepsPartitionOrder(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topicA := kafkatest.CreateTopic(t, servers, 2)
	topicB := kafkatest.CreateTopic(t, servers, 1)
	const perPartition = 20
	var mu sync.Mutex
	inFlight := map[string]int{}
	sub := newSubscriber(t, func(_ http.ResponseWriter, r received) int {
		// A partition is a topic (in the source) and a partition (in the id).
		part := r.event.Source() + " " + strings.Split(r.id, "/")[0]
		mu.Lock()
		inFlight[part]++
		if inFlight[part] > 1 {
			t.Errorf("%s has %d deliveries in flight", part, inFlight[part])
		}
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // let a wrong order show
		mu.Lock()
		inFlight[part]--
		mu.Unlock()
		return http.StatusOK
	})
	d := newDispatcher(t)
	eg := newEgress(t, "ordered", sub.URL, withOrder(contract.Ordered))
	apply(t, d, newSourceContract(servers, []string{topicA, topicB}, nil, eg))
	waitReady(t, d, eg.UID)

	p := newProducer(t, servers)
	for i := range perPartition {
		produceRaw(t, p, topicA, 0, fmt.Sprint(i))
		produceRaw(t, p, topicA, 1, fmt.Sprint(i))
		produceRaw(t, p, topicB, 0, fmt.Sprint(i))
	}
	eventually(t, "all records", func() bool { return sub.count() >= 3*perPartition })
	next := map[string]int64{}
	for _, r := range sub.received() {
		part, off := positionOf(t, r.id)
		key := fmt.Sprint(r.event.Source(), "/", part)
		if off != next[key] {
			t.Fatalf("%s: got offset %d, want %d", key, off, next[key])
		}
		next[key]++
	}
	if len(next) != 3 {
		t.Errorf("records came from %d partitions, want 3", len(next))
	}
}

func TestEgressHashFollowsTopicsAndSource(t *testing.T) {
	eg := newEgress(t, "s", "http://sink") // its group name is unique per call
	base := func() (*contract.Resource, *contract.Egress) {
		c := newSourceContract([]string{"k:9092"}, []string{"a", "b"},
			&contract.Source{EventSource: sourceOf("s"), Extensions: map[string]string{"x": "1"}}, eg)
		return &c.Resources[0], &c.Resources[0].Egresses[0]
	}
	r, e := base()
	want := egressHash(r, e, "k:9092")
	if r2, e2 := base(); egressHash(r2, e2, "k:9092") != want {
		t.Fatal("the same source hashes differently")
	}
	for name, change := range map[string]func(*contract.Resource, *contract.Egress){
		"topics":         func(r *contract.Resource, _ *contract.Egress) { r.Topics = []string{"a"} },
		"key type":       func(r *contract.Resource, _ *contract.Egress) { r.Source.KeyType = contract.KeyInt },
		"extensions":     func(r *contract.Resource, _ *contract.Egress) { r.Source.Extensions = map[string]string{"x": "2"} },
		"event source":   func(r *contract.Resource, _ *contract.Egress) { r.Source.EventSource = sourceOf("t") },
		"initial offset": func(_ *contract.Resource, e *contract.Egress) { e.InitialOffset = contract.OffsetEarliest },
	} {
		r, e := base()
		change(r, e)
		if egressHash(r, e, "k:9092") == want {
			t.Errorf("changing the %s keeps the hash: the egress would not restart", name)
		}
	}
	if egressHash(r, e, "k:9092|SASL_PLAINTEXT|0123") == want {
		t.Error("changing the cluster's credentials keeps the hash: a rotated Secret would not restart the egress")
	}
}

func TestInvalidKafkaSourceEgressesAreReported(t *testing.T) {
	// Nothing here reaches Kafka: an invalid egress is refused before any client exists.
	servers := []string{"127.0.0.1:1"}
	for name, c := range map[string]*contract.Contract{
		"unknown initial offset": newSourceContract(servers, []string{"a"}, nil, newEgress(t, "io", "http://sink", withInitialOffset("middle"))),
		"reply to a topic":       newSourceContract(servers, []string{"a"}, nil, newEgress(t, "rt", "http://sink", withReply(contract.Reply{Kind: contract.ReplyTopic}))),
		"reply to a url":         newSourceContract(servers, []string{"a"}, nil, newEgress(t, "ru", "http://sink", withReply(contract.Reply{Kind: contract.ReplyURL, URL: "http://r"}))),
		"override of a spec attribute": newSourceContract(servers, []string{"a"},
			&contract.Source{EventSource: sourceOf("ov"), Extensions: map[string]string{"type": "x"}}, newEgress(t, "ov", "http://sink")),
		"no topics": newSourceContract(servers, nil, nil, newEgress(t, "nt", "http://sink")),
	} {
		t.Run(name, func(t *testing.T) {
			d := newDispatcher(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d.Apply(ctx, c); err == nil {
				t.Error("Apply accepted the egress")
			}
			uid := c.Resources[0].Egresses[0].UID
			if st := d.Status()[uid]; st.Ready || st.Reason != ReasonInvalidEgress {
				t.Errorf("status = %+v, want reason %s", st, ReasonInvalidEgress)
			}
		})
	}
}
