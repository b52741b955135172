package dispatcher

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
)

// checkOrder fails unless, per group key, the seqs arrive as 0, 1, 2, ...
func checkOrder(t *testing.T, got []received, keyOf func(received) string) {
	t.Helper()
	next := map[string]int{}
	for _, r := range got {
		k := keyOf(r)
		if r.seq != next[k] {
			t.Fatalf("group %q: got seq %d (id %s), want %d", k, r.seq, r.id, next[k])
		}
		next[k]++
	}
}

func TestOrderedKeepsPartitionOrderWhileOtherPartitionsProgress(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	const perPartition = 20

	// Partition 0's first event is held until partitions 1 and 2 are completely delivered: with
	// one event in flight per partition (not per egress), that cannot deadlock.
	var others sync.WaitGroup
	others.Add(2 * perPartition)
	othersDone := make(chan struct{})
	go func() { others.Wait(); close(othersDone) }()
	var perPart sync.Mutex
	inPart := map[int]int{}
	sub := newSubscriber(t, func(_ http.ResponseWriter, r received) int {
		perPart.Lock()
		inPart[r.part]++
		if inPart[r.part] > 1 {
			t.Errorf("partition %d has %d deliveries in flight", r.part, inPart[r.part])
		}
		perPart.Unlock()
		defer func() { perPart.Lock(); inPart[r.part]--; perPart.Unlock() }()
		if r.part == 0 && r.seq == 0 {
			select {
			case <-othersDone:
			case <-time.After(waitTimeout):
				t.Error("partitions 1 and 2 did not progress while partition 0 was in flight")
			}
		} else if r.part != 0 {
			others.Done()
		}
		return http.StatusOK
	})

	d := newDispatcher(t)
	eg := newEgress(t, "ordered", sub.URL, withOrder(contract.Ordered))
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)

	p := newProducer(t, servers)
	for seq := range perPartition {
		for part := range 3 {
			produce(t, p, topic, int32(part), newEvent(fmt.Sprintf("p%d-%d", part, seq), "t",
				"part", strconv.Itoa(part), "seq", strconv.Itoa(seq)))
		}
	}
	eventually(t, "all events delivered", func() bool { return sub.count() >= 3*perPartition })
	got := sub.received()
	if len(got) != 3*perPartition {
		t.Fatalf("got %d deliveries, want %d", len(got), 3*perPartition)
	}
	checkOrder(t, got, func(r received) string { return strconv.Itoa(r.part) })
}

func TestUnorderedDeliversConcurrently(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	const n = 50

	// The first requests wait (bounded) until a second one is in flight; the test asserts that
	// happened, which a one-at-a-time dispatcher cannot achieve.
	sub := newSubscriber(t, nil)
	sub.handle = func(_ http.ResponseWriter, _ received) int {
		sub.awaitCompany()
		return http.StatusOK
	}
	d := newDispatcher(t)
	eg := newEgress(t, "unordered", sub.URL, withOrder(contract.Unordered), withMaxInFlight(8))
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)

	p := newProducer(t, servers)
	for i := range n {
		produce(t, p, topic, 0, newEvent(fmt.Sprintf("u-%d", i), "t"))
	}
	eventually(t, "all events delivered", func() bool { return len(sub.ids()) == n })
	if m := sub.maxConcurrent(); m < 2 || m > 8 {
		t.Fatalf("max concurrent deliveries = %d, want between 2 and MaxInFlight 8", m)
	}
}

func TestKeyOrderedKeepsKeyOrderWithConcurrencyAcrossKeys(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	const keys, perKey = 5, 15

	var mu sync.Mutex
	inKey := map[string]int{}
	sub := newSubscriber(t, nil)
	sub.handle = func(_ http.ResponseWriter, r received) int {
		mu.Lock()
		inKey[r.key]++
		if inKey[r.key] > 1 {
			t.Errorf("key %q has %d deliveries in flight", r.key, inKey[r.key])
		}
		mu.Unlock()
		defer func() { mu.Lock(); inKey[r.key]--; mu.Unlock() }()
		sub.awaitCompany()
		return http.StatusOK
	}
	d := newDispatcher(t)
	eg := newEgress(t, "keyordered", sub.URL, withOrder(contract.KeyOrdered))
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)

	p := newProducer(t, servers)
	for seq := range perKey {
		for k := range keys {
			produce(t, p, topic, 0, newEvent(fmt.Sprintf("k%d-%d", k, seq), "t",
				"partitionkey", fmt.Sprintf("key-%d", k), "seq", strconv.Itoa(seq)))
		}
	}
	eventually(t, "all events delivered", func() bool { return sub.count() >= keys*perKey })
	got := sub.received()
	if len(got) != keys*perKey {
		t.Fatalf("got %d deliveries, want %d", len(got), keys*perKey)
	}
	checkOrder(t, got, func(r received) string { return r.key })
	if m := sub.maxConcurrent(); m < 2 {
		t.Fatalf("max concurrent deliveries = %d, want at least 2 across keys", m)
	}
}

func TestReadyMeansEventsFromNowOnAreDelivered(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	p := newProducer(t, servers)
	// Events already in the topic when a new group starts are not delivered (it starts at the
	// end, as Knative's Kafka broker does).
	for part := range 3 {
		produce(t, p, topic, int32(part), newEvent(fmt.Sprintf("old-%d", part), "t"))
	}

	sub := newSubscriber(t, nil)
	d := newDispatcher(t)
	eg := newEgress(t, "ready", sub.URL)
	apply(t, d, newContract(servers, topic, eg))
	if st := d.Status()[eg.UID]; st.Ready || st.Reason == "" {
		t.Fatalf("status right after Apply = %+v, want not ready with a reason", st)
	}
	waitReady(t, d, eg.UID)
	// Right after Ready, with no delay: every event must arrive.
	for i := range 30 {
		produce(t, p, topic, int32(i%3), newEvent(fmt.Sprintf("new-%d", i), "t"))
	}
	eventually(t, "all new events delivered", func() bool { return len(sub.ids()) >= 30 })
	// The committed start offsets survive: the group has a commit on every partition.
	adm := kafkatest.Admin(t, servers)
	eventually(t, "all partitions committed", func() bool {
		c := committed(t, adm, eg.ConsumerGroup, topic)
		return len(c) == 3 && c[0]+c[1]+c[2] == 33
	})
	for id := range sub.ids() {
		if id[:3] == "old" {
			t.Errorf("event %s produced before the group existed was delivered", id)
		}
	}
}

func TestStatusReportsMissingTopic(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	sub := newSubscriber(t, nil)
	d := newDispatcher(t, RetryInterval(50*time.Millisecond))
	eg := newEgress(t, "missing", sub.URL)
	apply(t, d, newContract(servers, kafkatest.TopicName(t), eg))
	eventually(t, "TopicNotFound", func() bool { return d.Status()[eg.UID].Reason == ReasonTopicNotFound })
}

func TestCommitsOnlyTheCompletedPrefix(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	const n = 10
	release := make(chan struct{})
	sub := newSubscriber(t, func(_ http.ResponseWriter, r received) int {
		if r.id == "c-3" {
			select {
			case <-release:
			case <-time.After(waitTimeout):
			}
		}
		return http.StatusOK
	})
	d := newDispatcher(t)
	eg := newEgress(t, "prefix", sub.URL, withMaxInFlight(n))
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)
	adm := kafkatest.Admin(t, servers)
	start := committed(t, adm, eg.ConsumerGroup, topic)[0]

	p := newProducer(t, servers)
	for i := range n {
		produce(t, p, topic, 0, newEvent(fmt.Sprintf("c-%d", i), "t"))
	}
	eventually(t, "all but c-3 delivered", func() bool { return sub.count() == n-1 })
	eventually(t, "commit up to c-3", func() bool { return committed(t, adm, eg.ConsumerGroup, topic)[0] == start+3 })
	// Several more commit intervals pass; the commit must stay at c-3.
	for range 5 {
		time.Sleep(150 * time.Millisecond)
		if got := committed(t, adm, eg.ConsumerGroup, topic)[0]; got != start+3 {
			t.Fatalf("committed offset = %d while offset %d is in flight, want %d", got, start+3, start+3)
		}
	}
	close(release)
	eventually(t, "commit of everything", func() bool { return committed(t, adm, eg.ConsumerGroup, topic)[0] == start+n })
}
