package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// endOffsets lists the end offset of every partition of topic.
func endOffsets(t *testing.T, servers []string, topic string) map[int32]int64 {
	t.Helper()
	adm := kafkatest.Admin(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// waitCommitted waits until every group committed the end offsets of topic.
func waitCommitted(t *testing.T, servers []string, topic string, groups ...string) {
	t.Helper()
	end := endOffsets(t, servers, topic)
	adm := kafkatest.Admin(t, servers)
	for _, g := range groups {
		eventually(t, "group "+g+" committed the end of "+topic, func() bool {
			return cmp.Equal(committed(t, adm, g, topic), end)
		})
	}
}

// byPartition is the ids a subscriber got, per partition, in arrival order.
func byPartition(s *subscriber) map[int][]string {
	out := map[int][]string{}
	for _, r := range s.received() {
		out[r.part] = append(out[r.part], r.id)
	}
	return out
}

// TestSharedReadsDeliverWhatSeparateReadersDo runs the same Triggers — filtering on four types,
// ordered, unordered and key-ordered — on one dispatcher that shares a reader among them and on
// one that gives each its own consumer (as Knative's Kafka broker does), over a backlog and live
// traffic, and compares: the same events per Trigger, each exactly once, the same order within a
// partition for ordered Triggers, and every group's commits at the end of the topic.
func TestSharedReadsDeliverWhatSeparateReadersDo(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 4)
	const (
		triggers = 12
		events   = 600
	)
	orders := []contract.DeliveryOrder{contract.Ordered, contract.Unordered, contract.KeyOrdered}
	p := newProducer(t, servers)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			e := newEvent(fmt.Sprintf("e-%d", i), fmt.Sprintf("t%d", i%4), "part", strconv.Itoa(i%4),
				"partitionkey", fmt.Sprintf("k%d", i%7))
			produce(t, p, topic, int32(i%4), e)
		}
	}
	send(0, events/2) // a backlog both start from

	type run struct {
		d    *Dispatcher
		subs []*subscriber
		egs  []contract.Egress
	}
	runs := map[string]*run{"shared": {d: newDispatcher(t)}, "separate": {d: newDispatcher(t, SharedReads(false))}}
	for mode, r := range runs {
		var uids []string
		for i := range triggers {
			s := newSubscriber(t, nil)
			opts := []egressOpt{withInitialOffset(contract.OffsetEarliest), withOrder(orders[i%3])}
			if i != triggers-1 { // the last one takes everything
				opts = append(opts, withFilter(&contract.Filter{Attributes: map[string]string{"type": fmt.Sprintf("t%d", i%4)}}))
			}
			eg := newEgress(t, fmt.Sprintf("%s-%d", mode, i), s.URL, opts...)
			r.subs, r.egs = append(r.subs, s), append(r.egs, eg)
			uids = append(uids, eg.UID)
		}
		apply(t, r.d, newContract(servers, topic, r.egs...))
		waitReady(t, r.d, uids...)
	}
	send(events/2, events)

	want := func(i int) []string {
		var ids []string
		for n := range events {
			if i == triggers-1 || n%4 == i%4 {
				ids = append(ids, fmt.Sprintf("e-%d", n))
			}
		}
		slices.Sort(ids)
		return ids
	}
	for i := range triggers {
		for mode, r := range runs {
			eventually(t, fmt.Sprintf("%s trigger %d receives its events", mode, i), func() bool {
				return len(r.subs[i].ids()) == len(want(i))
			})
		}
	}
	for i := range triggers {
		var got [2][]string
		for j, mode := range []string{"shared", "separate"} {
			s := runs[mode].subs[i]
			for _, r := range s.received() {
				got[j] = append(got[j], r.id)
			}
			slices.Sort(got[j])
			if diff := cmp.Diff(want(i), got[j]); diff != "" {
				t.Errorf("%s trigger %d (%s): events differ from the topic's (-want +got):\n%s", mode, i, orders[i%3], diff)
			}
		}
		if orders[i%3] == contract.Ordered {
			if diff := cmp.Diff(byPartition(runs["separate"].subs[i]), byPartition(runs["shared"].subs[i])); diff != "" {
				t.Errorf("ordered trigger %d: per-partition order differs between separate and shared readers (-separate +shared):\n%s", i, diff)
			}
		}
	}
	var groups []string
	for _, r := range runs {
		for _, eg := range r.egs {
			groups = append(groups, eg.ConsumerGroup)
		}
	}
	waitCommitted(t, servers, topic, groups...)
}

// ownership checks what replicas' shared readers reported: a partition is owned by one replica at
// a time, and a replica commits a partition for a group only while it owns it.
type ownership struct {
	mu     sync.Mutex
	owner  map[int32]string
	errs   []string
	counts map[string]int
}

func newOwnership() *ownership {
	return &ownership{owner: map[int32]string{}, counts: map[string]int{}}
}

// observe returns the readerEvents hook of replica.
func (o *ownership) observe(replica string) Option {
	return func(c *config) {
		c.readerEvents = func(e readerEvent) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.counts[replica+" "+e.kind]++
			cur, owned := o.owner[e.partition]
			switch e.kind {
			case "owned":
				if owned && cur != replica {
					o.errs = append(o.errs, fmt.Sprintf("%s took partition %d while %s owned it", replica, e.partition, cur))
				}
				o.owner[e.partition] = replica
			case "released":
				if cur == replica {
					delete(o.owner, e.partition)
				}
			case "commit":
				if cur != replica {
					o.errs = append(o.errs, fmt.Sprintf("%s committed %s/%d at %d while %q owned it", replica, e.group, e.partition, e.offset, cur))
				}
			}
		}
	}
}

func (o *ownership) check(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.errs {
		t.Error(e)
	}
	t.Logf("reader events: %v", o.counts)
}

// TestSharedReadsAcrossTwoReplicas runs ten Triggers on one replica while events flow, starts a
// second replica (the reader group rebalances mid-stream), then closes the first: every event
// reaches every Trigger, duplicates are reported, every group ends committed at the end of the
// topic, and at no point did two replicas own one partition, or a replica commit a partition it
// did not own.
func TestSharedReadsAcrossTwoReplicas(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 4)
	const (
		triggers = 10
		events   = 400
	)
	own := newOwnership()
	var subs []*subscriber
	var egs []contract.Egress
	var uids, groups []string
	for i := range triggers {
		s := newSubscriber(t, func(http.ResponseWriter, received) int {
			time.Sleep(time.Millisecond) // keep deliveries in flight across rebalances
			return http.StatusOK
		})
		order := contract.Unordered
		if i%2 == 0 {
			order = contract.Ordered
		}
		eg := newEgress(t, fmt.Sprintf("t%d", i), s.URL, withOrder(order))
		subs, egs = append(subs, s), append(egs, eg)
		uids, groups = append(uids, eg.UID), append(groups, eg.ConsumerGroup)
	}
	c := newContract(servers, topic, egs...)
	a := newDispatcher(t, own.observe("a"))
	apply(t, a, c)
	waitReady(t, a, uids...)

	b := newDispatcher(t, own.observe("b"))
	p := newProducer(t, servers)
	for i := range events {
		switch i {
		case events / 4:
			apply(t, b, c)
		case events / 2:
			waitReady(t, b, uids...)
		case 3 * events / 4:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := a.Close(ctx); err != nil {
				t.Fatalf("closing a: %v", err)
			}
			cancel()
		}
		produce(t, p, topic, int32(i%4), newEvent(fmt.Sprintf("r-%d", i), "t", "part", strconv.Itoa(i%4)))
	}
	for i, s := range subs {
		eventually(t, fmt.Sprintf("trigger %d receives every event", i), func() bool { return len(s.ids()) == events })
		if dups := s.count() - events; dups > 0 {
			t.Logf("trigger %d: %d redeliveries (at least once)", i, dups)
		}
	}
	waitCommitted(t, servers, topic, groups...)
	own.check(t)
	own.mu.Lock()
	defer own.mu.Unlock()
	if own.counts["b owned"] == 0 || own.counts["a released"] == 0 {
		t.Errorf("no rebalance happened: %v", own.counts)
	}
}

// TestSharedReaderDetachesAndRejoinsASlowTrigger has a Trigger whose subscriber is stuck beside
// one whose subscriber is fast: the fast one receives the whole stream while the stuck one is
// held (it detaches from the shared reader instead of holding it back), and once unstuck the slow
// one catches up on its own, rejoins the reader, and gets every event too.
func TestSharedReaderDetachesAndRejoinsASlowTrigger(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	const events = 300
	own := newOwnership()
	gate := make(chan struct{})
	slow := newSubscriber(t, func(http.ResponseWriter, received) int {
		select {
		case <-gate:
		case <-time.After(waitTimeout):
		}
		return http.StatusOK
	})
	fast := newSubscriber(t, nil)
	egFast := newEgress(t, "fast", fast.URL)
	egSlow := newEgress(t, "slow", slow.URL, withOrder(contract.Ordered))
	d := newDispatcher(t, MaxBufferedRecords(20), own.observe("d"))
	apply(t, d, newContract(servers, topic, egFast, egSlow))
	waitReady(t, d, egFast.UID, egSlow.UID)

	p := newProducer(t, servers)
	for i := range events {
		produce(t, p, topic, int32(i%2), newEvent(fmt.Sprintf("s-%d", i), "t", "part", strconv.Itoa(i%2)))
	}
	eventually(t, "the fast trigger receives everything while the slow one is stuck", func() bool { return len(fast.ids()) == events })
	if n := slow.count(); n > 0 {
		t.Fatalf("the stuck subscriber answered %d events before its gate opened", n)
	}
	own.mu.Lock()
	detached := own.counts["d detach"]
	own.mu.Unlock()
	if detached == 0 {
		t.Errorf("the slow trigger never detached from the shared reader: %v", own.counts)
	}
	close(gate)
	eventually(t, "the slow trigger catches up", func() bool { return len(slow.ids()) == events })
	eventually(t, "the slow trigger rejoins the shared reader", func() bool {
		own.mu.Lock()
		defer own.mu.Unlock()
		return own.counts["d rejoin"] >= own.counts["d detach"]
	})
	for part, ids := range byPartition(slow) {
		var seqs []int
		for _, id := range ids {
			n, _ := strconv.Atoi(strings.TrimPrefix(id, "s-"))
			seqs = append(seqs, n)
		}
		if !slices.IsSorted(seqs) {
			t.Errorf("ordered slow trigger, partition %d: out of order after catching up: %v", part, seqs)
		}
	}
	waitCommitted(t, servers, topic, egFast.ConsumerGroup, egSlow.ConsumerGroup)
	own.check(t)

	// Traffic after the rejoin still reaches both.
	for i := events; i < events+20; i++ {
		produce(t, p, topic, int32(i%2), newEvent(fmt.Sprintf("s-%d", i), "t", "part", strconv.Itoa(i%2)))
	}
	eventually(t, "both receive events after the rejoin", func() bool {
		return len(fast.ids()) == events+20 && len(slow.ids()) == events+20
	})
}

// TestSharedReaderTriggersAddedAndRemovedUnderLoad adds a Trigger and removes another while
// events flow: the Trigger present throughout receives every event exactly once (neither change
// disturbs it), the added one receives every event sent after it reported Ready, and the removed
// one's group is left committed where it stopped, never past the end.
func TestSharedReaderTriggersAddedAndRemovedUnderLoad(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 4)
	const events = 600
	stay, leave, join := newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil)
	egStay := newEgress(t, "stay", stay.URL)
	egLeave := newEgress(t, "leave", leave.URL, withOrder(contract.Ordered))
	egJoin := newEgress(t, "join", join.URL)
	d := newDispatcher(t)
	apply(t, d, newContract(servers, topic, egStay, egLeave))
	waitReady(t, d, egStay.UID, egLeave.UID)

	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := newProducer(t, servers)
		for i := range events {
			produce(t, p, topic, int32(i%4), newEvent(fmt.Sprintf("l-%d", i), "t", "part", strconv.Itoa(i%4)))
			sent.Store(int64(i + 1))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	eventually(t, "a third of the events sent", func() bool { return sent.Load() >= events/3 })
	apply(t, d, newContract(servers, topic, egStay, egLeave, egJoin))
	waitReady(t, d, egJoin.UID)
	readyAt := int(sent.Load())
	eventually(t, "two thirds of the events sent", func() bool { return sent.Load() >= 2*events/3 })
	apply(t, d, newContract(servers, topic, egStay, egJoin))
	<-done

	eventually(t, "the trigger present throughout receives every event", func() bool { return len(stay.ids()) == events })
	eventually(t, "the added trigger receives every event sent after it was ready", func() bool {
		ids := join.ids()
		for i := readyAt; i < events; i++ {
			if ids[fmt.Sprintf("l-%d", i)] == 0 {
				return false
			}
		}
		return true
	})
	if dups := stay.count() - events; dups != 0 {
		t.Errorf("the trigger present throughout got %d duplicates: adding or removing another disturbed it", dups)
	}
	waitCommitted(t, servers, topic, egStay.ConsumerGroup, egJoin.ConsumerGroup)
	adm := kafkatest.Admin(t, servers)
	end := endOffsets(t, servers, topic)
	left := committed(t, adm, egLeave.ConsumerGroup, topic)
	var delivered int
	for p, at := range left {
		if at > end[p] {
			t.Errorf("removed trigger committed %d on partition %d, past the end %d", at, p, end[p])
		}
		delivered += int(at)
	}
	if got := len(leave.ids()); got < delivered {
		t.Errorf("removed trigger committed %d events but its subscriber got %d", delivered, got)
	}
	t.Logf("added trigger ready after %d events; removed trigger committed %d events", readyAt, delivered)
}

// TestSharedReaderHoldsOneCopyForManyLaggingTriggers runs 200 Triggers stuck behind a backlog
// beside a fast one: the records they all hold are counted once, so the budget holds at most one
// copy of the backlog (separate consumers would hold 201), and the fast one delivers everything
// while the others are stuck; once unstuck, everyone gets every event and the budget drains.
func TestSharedReaderHoldsOneCopyForManyLaggingTriggers(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	const (
		lagging = 200
		events  = 120
	)
	pad := strings.Repeat("x", 1000)
	cl := newProducer(t, servers)
	for i := range events {
		produce(t, cl, topic, int32(i%2), newEvent("e-"+strconv.Itoa(i), "t", "pad", pad))
	}
	slow := newGatedRecorder(t, 0)
	fast := newSubscriber(t, nil)
	d := newDispatcher(t)
	egs := []contract.Egress{newEgress(t, "fast", fast.URL, withInitialOffset(contract.OffsetEarliest))}
	uids := []string{egs[0].UID}
	for i := range lagging {
		name := fmt.Sprintf("lag%03d", i)
		egs = append(egs, newEgress(t, name, slow.URL+"/"+name, withInitialOffset(contract.OffsetEarliest), withMaxInFlight(2)))
		uids = append(uids, egs[len(egs)-1].UID)
	}
	apply(t, d, newContract(servers, topic, egs...))
	waitReady(t, d, uids...)
	eventually(t, "the fast trigger delivers its backlog beside 200 stuck ones", func() bool { return len(fast.ids()) >= events })
	eventually(t, "the stuck triggers hold their records", func() bool { return slow.stuckIn.Load() >= lagging })
	backlog := int64(events) * recordBytes(encoded(t, newEvent("e-"+strconv.Itoa(events), "t", "pad", pad)))
	if used := d.budget.Used(); used > backlog {
		t.Errorf("with 200 triggers stuck on one backlog of %d bytes the budget holds %d bytes: more than one copy", backlog, used)
	}
	t.Logf("stuck: %d deliveries waiting, %d bytes held for a backlog of %d bytes", slow.stuckIn.Load(), d.budget.Used(), backlog)
	close(slow.gate)
	eventually(t, "every event delivered to every trigger", func() bool { return slow.all(lagging, events) })
	eventually(t, "the budget drained", func() bool { return d.budget.Used() == 0 })
}

// TestSharedReaderNewTriggersBehindTheReaderCatchUp adds Triggers to a reader already at the head
// of the topic: one whose group committed part-way (as a migration from another broker leaves it)
// resumes exactly there, one starting at the earliest offset gets the whole backlog, and both
// catch up on their own, rejoin the reader and receive live events with the Trigger that was there.
func TestSharedReaderNewTriggersBehindTheReaderCatchUp(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	const backlog = 200
	own := newOwnership()
	first, resumed, earliest := newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil)
	egFirst := newEgress(t, "first", first.URL)
	egResumed := newEgress(t, "resumed", resumed.URL, withOrder(contract.Ordered))
	egEarliest := newEgress(t, "earliest", earliest.URL, withInitialOffset(contract.OffsetEarliest))
	d := newDispatcher(t, own.observe("d"))
	apply(t, d, newContract(servers, topic, egFirst))
	waitReady(t, d, egFirst.UID)

	p := newProducer(t, servers)
	offsetOf := map[string]int64{}
	partOf := map[string]int32{}
	for i := range backlog {
		id := fmt.Sprintf("b-%d", i)
		offsetOf[id] = produce(t, p, topic, int32(i%2), newEvent(id, "t", "part", strconv.Itoa(i%2)))
		partOf[id] = int32(i % 2)
	}
	eventually(t, "the first trigger receives the backlog", func() bool { return len(first.ids()) == backlog })

	// The resumed Trigger's group committed part-way, as another broker's dispatcher left it.
	commitAt := map[int32]int64{0: 30, 1: 45}
	adm := kafkatest.Admin(t, servers)
	var offs kadm.Offsets
	for part, at := range commitAt {
		offs.AddOffset(topic, part, at, -1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := adm.CommitOffsets(ctx, egResumed.ConsumerGroup, offs); err != nil || resp.Error() != nil {
		t.Fatalf("committing the resumed trigger's offsets: %v %v", err, resp.Error())
	}

	apply(t, d, newContract(servers, topic, egFirst, egResumed, egEarliest))
	waitReady(t, d, egResumed.UID, egEarliest.UID)
	var wantResumed []string
	for id, off := range offsetOf {
		if off >= commitAt[partOf[id]] {
			wantResumed = append(wantResumed, id)
		}
	}
	slices.Sort(wantResumed)
	eventually(t, "the resumed trigger receives the backlog from its commits", func() bool { return len(resumed.ids()) >= len(wantResumed) })
	eventually(t, "the earliest trigger receives the whole backlog", func() bool { return len(earliest.ids()) == backlog })
	var gotResumed []string
	for id := range resumed.ids() {
		gotResumed = append(gotResumed, id)
	}
	slices.Sort(gotResumed)
	if diff := cmp.Diff(wantResumed, gotResumed); diff != "" {
		t.Errorf("the resumed trigger did not resume exactly at its commits (-want +got):\n%s", diff)
	}
	if dups := resumed.count() - len(wantResumed); dups != 0 {
		t.Errorf("the resumed trigger got %d duplicates", dups)
	}

	for i := backlog; i < backlog+20; i++ {
		produce(t, p, topic, int32(i%2), newEvent(fmt.Sprintf("b-%d", i), "t", "part", strconv.Itoa(i%2)))
	}
	eventually(t, "live events reach all three", func() bool {
		return len(first.ids()) == backlog+20 && len(earliest.ids()) == backlog+20 && len(resumed.ids()) == len(wantResumed)+20
	})
	eventually(t, "both new triggers rejoin the shared reader", func() bool {
		own.mu.Lock()
		defer own.mu.Unlock()
		return own.counts["d detach"] >= 2 && own.counts["d rejoin"] >= own.counts["d detach"]
	})
	waitCommitted(t, servers, topic, egFirst.ConsumerGroup, egResumed.ConsumerGroup, egEarliest.ConsumerGroup)
	own.check(t)
}

// TestDeliveriesBoundKeepsHangingSubscribersFromStoppingOthers bounds the deliveries in flight
// across the dispatcher to 8 while five Triggers, each allowed 10 in flight, hang on their
// subscriber: they hold no more than the bound lets them, and a sixth Trigger still delivers its
// whole stream meanwhile; once released, everyone gets everything.
func TestDeliveriesBoundKeepsHangingSubscribersFromStoppingOthers(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	const (
		hanging = 5
		events  = 100
		bound   = 8
	)
	gate := make(chan struct{})
	var inFlight, peak atomic.Int64
	stuck := newSubscriber(t, func(http.ResponseWriter, received) int {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-time.After(waitTimeout):
		}
		return http.StatusOK
	})
	fast := newSubscriber(t, nil)
	d := newDispatcher(t, MaxDeliveries(bound))
	egs := []contract.Egress{newEgress(t, "fast", fast.URL)}
	var uids []string
	for i := range hanging {
		egs = append(egs, newEgress(t, fmt.Sprintf("hang%d", i), stuck.URL, withMaxInFlight(10)))
	}
	for _, eg := range egs {
		uids = append(uids, eg.UID)
	}
	apply(t, d, newContract(servers, topic, egs...))
	waitReady(t, d, uids...)
	p := newProducer(t, servers)
	for i := range events {
		produce(t, p, topic, int32(i%2), newEvent(fmt.Sprintf("h-%d", i), "t"))
	}
	eventually(t, "the fast trigger delivers everything beside five hanging ones", func() bool { return len(fast.ids()) == events })
	// The hanging Triggers hold what the bound gives them: its equal share among the delivering
	// egresses, and one each beyond the bound at most.
	time.Sleep(200 * time.Millisecond)
	if got := peak.Load(); got > bound+hanging || got < hanging {
		t.Errorf("hanging subscribers saw %d deliveries at once; want between %d and the bound plus one each, %d", got, hanging, bound+hanging)
	}
	close(gate)
	eventually(t, "every hanging trigger receives everything once released", func() bool { return stuck.count() >= hanging*events })
	t.Logf("at most %d deliveries hung at once (bound %d, %d hanging triggers allowed 10 each)", peak.Load(), bound, hanging)
}

// TestSharedReaderReplicaWithoutPartitionsIsReady runs two replicas on a one-partition topic: the
// replica the reader group gives nothing still reports the Trigger Ready (Ready needs every
// replica), and the events are delivered by the other.
func TestSharedReaderReplicaWithoutPartitionsIsReady(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	own := newOwnership()
	sub := newSubscriber(t, nil)
	eg := newEgress(t, "one", sub.URL)
	c := newContract(servers, topic, eg)
	a, b := newDispatcher(t, own.observe("a")), newDispatcher(t, own.observe("b"))
	apply(t, a, c)
	apply(t, b, c)
	waitReady(t, a, eg.UID)
	waitReady(t, b, eg.UID)
	p := newProducer(t, servers)
	for i := range 20 {
		produce(t, p, topic, 0, newEvent(fmt.Sprintf("o-%d", i), "t"))
	}
	eventually(t, "every event delivered", func() bool { return len(sub.ids()) == 20 })
	waitCommitted(t, servers, topic, eg.ConsumerGroup)
	own.check(t)
	own.mu.Lock()
	defer own.mu.Unlock()
	if own.counts["a owned"]+own.counts["b owned"]-own.counts["a released"]-own.counts["b released"] != 1 {
		t.Errorf("the partition is not owned by exactly one replica: %v", own.counts)
	}
}

// Lanes sharing a reader share each event's encoded request too, yet every subscriber gets the
// headers its own delivery would carry: its egress's Kn-Namespace (lanes of two namespaces read one
// topic here), the record's trace context, Prefer: reply, and the event's attributes and data.
func TestSharedReadsEncodeEachEventForEveryNamespace(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	d := newDispatcher(t)
	subs := map[string]*subscriber{}
	var egs []contract.Egress
	for _, name := range []string{"a", "b", "elsewhere"} {
		subs[name] = newSubscriber(t, nil)
		eg := newEgress(t, name, subs[name].URL, withInitialOffset(contract.OffsetEarliest))
		if name == "elsewhere" {
			eg.Namespace = "other"
		}
		egs = append(egs, eg)
	}
	apply(t, d, newContract(servers, topic, egs...))
	waitReady(t, d, egs[0].UID, egs[1].UID, egs[2].UID)

	const events = 40
	p := newProducer(t, servers)
	traceparent := func(i int) string { return fmt.Sprintf("00-0af7651916cd43dd8448eb211c8031%02d-b7ad6b7169203331-01", i) }
	for i := range events {
		r, err := cekafka.Encode(newEvent(fmt.Sprintf("e-%d", i), "t"))
		if err != nil {
			t.Fatal(err)
		}
		r.Topic, r.Partition = topic, int32(i%2)
		cekafka.SetTraceHeaders(r, traceparent(i), "")
		produceRecord(t, p, r)
	}
	for name, s := range subs {
		eventually(t, name+" receives every event", func() bool { return len(s.ids()) == events })
	}
	byID := func(s *subscriber) map[string]received {
		m := map[string]received{}
		for _, r := range s.received() {
			m[r.id] = r
		}
		return m
	}
	a, b, elsewhere := byID(subs["a"]), byID(subs["b"]), byID(subs["elsewhere"])
	for i := range events {
		id := fmt.Sprintf("e-%d", i)
		for name, c := range map[string]struct {
			r  received
			ns string
		}{"a": {a[id], "test"}, "b": {b[id], "test"}, "elsewhere": {elsewhere[id], "other"}} {
			h := c.r.header
			if h.Get("Kn-Namespace") != c.ns || h.Get("Traceparent") != traceparent(i) || h.Get("Prefer") != "reply" || h.Get("Ce-Id") != id {
				t.Errorf("%s got %s with Kn-Namespace %q, Traceparent %q, Prefer %q, Ce-Id %q; want %q, %q, reply, %q",
					name, id, h.Get("Kn-Namespace"), h.Get("Traceparent"), h.Get("Prefer"), h.Get("Ce-Id"), c.ns, traceparent(i), id)
			}
		}
		ha, hb := a[id].header.Clone(), b[id].header.Clone()
		if diff := cmp.Diff(ha, hb); diff != "" {
			t.Errorf("%s: lanes of one namespace got different headers (-a +b):\n%s", id, diff)
		}
		if diff := cmp.Diff(a[id].event.Data(), elsewhere[id].event.Data()); diff != "" {
			t.Errorf("%s: data differs between namespaces (-test +other):\n%s", id, diff)
		}
	}
}

// fetchCounter counts the records a dispatcher's clients read from fetch responses.
type fetchCounter struct{ records atomic.Int64 }

func (c *fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	c.records.Add(int64(m.NumRecords))
}

// A Trigger whose buffer fills again and again while it drains a backlog has its partition paused
// each time, and franz-go drops a paused partition's buffered records and fetches them again on
// resume: the shared reader takes everything franz-go buffered at each poll, so that the records
// are fetched about once rather than once per pause. With 100-record polls this backlog was read
// thirty times over.
func TestSharedReaderDoesNotFetchAPausedPartitionAgain(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	const events = 3000
	p := newProducer(t, servers)
	recs := make([]*kgo.Record, 0, events)
	for i := range events {
		r, err := cekafka.Encode(newEvent(fmt.Sprintf("e-%d", i), "t"))
		if err != nil {
			t.Fatal(err)
		}
		r.Topic = topic
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var fetched fetchCounter
	d := newDispatcher(t, MaxBufferedRecords(50), WithKafkaOpts(func(*contract.Resource) ([]kgo.Opt, error) {
		return []kgo.Opt{kgo.WithHooks(&fetched)}, nil
	}))
	sub := newSubscriber(t, nil)
	eg := newEgress(t, "drain", sub.URL, withInitialOffset(contract.OffsetEarliest))
	apply(t, d, newContract(servers, topic, eg))
	eventually(t, "the backlog delivered", func() bool { return len(sub.ids()) == events })
	// Every pause may still lose the fetch in flight at that moment; the old polls lost all but 50
	// records of every fetch.
	if n := fetched.records.Load(); n > 2*events {
		t.Errorf("the dispatcher read %d records from fetches for a backlog of %d (%.1f each)", n, events, float64(n)/events)
	} else {
		t.Logf("read %d records from fetches for a backlog of %d", n, events)
	}
}
