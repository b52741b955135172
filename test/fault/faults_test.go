package fault

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
)

// TestDispatcherKilledEveryFewSeconds SIGKILLs the only dispatcher over a stream of events, each
// time a second or three after it delivered something (so every kill lands mid-delivery, with
// deliveries in flight and completed offsets not yet committed), and starts a new one at once.
// The subscriber takes up to a second per event, so hundreds are in flight across every commit
// and every kill: a dispatcher that committed an offset before its delivery was answered loses
// some at each kill (checked: marking offsets done before delivering makes this test fail).
func TestDispatcherKilledEveryFewSeconds(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 6)
	r := newRig(t, servers, topic, func(e *contract.Egress) { e.MaxInFlight = 500 })
	r.sub.slow(time.Second)
	d := r.dispatcher(true)
	lg := load{URL: r.url(), Events: dispatcherKillEvents, Rate: 400, Prefix: "dk"}.run(ctxFor(t, 15*time.Minute))

	kills := 0
	for !lg.finished() {
		before := r.sub.accepted()
		until(30*time.Second, func() bool { return r.sub.accepted() > before || lg.finished() })
		if pause(lg, time.Second+rand.N(2*time.Second)) {
			break
		}
		d.Kill()
		kills++
		d = r.dispatcher(false)
	}
	lg.wait(t, time.Minute)
	r.finish("dispatcher-sigkill", lg, 3*time.Minute)
	t.Logf("%d SIGKILLs of the dispatcher", kills)
	if kills < 2 {
		t.Errorf("the dispatcher was killed %d times; the stream ended too soon to test anything", kills)
	}
}

// TestIngressKilledUnderLoad SIGKILLs the ingress every second or two while clients send; they
// retry connection errors and non-202 answers with the same id. Every id answered 202 must arrive.
func TestIngressKilledUnderLoad(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	r := newRig(t, servers, topic)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: 3000, Rate: 300, Prefix: "ik"}.run(ctxFor(t, 5*time.Minute))

	kills := 0
	for !pause(lg, time.Second+rand.N(time.Second)) {
		r.ingress.Kill()
		kills++
		time.Sleep(200 * time.Millisecond) // down for a moment: clients get connection errors
		r.restartIngress()
	}
	lg.wait(t, 2*time.Minute)
	r.finish("ingress-sigkill", lg, 2*time.Minute)
	t.Logf("%d SIGKILLs of the ingress", kills)
	if kills < 3 {
		t.Errorf("the ingress was killed %d times; the load ended too soon to test anything", kills)
	}
}

// TestDispatcherReplicasScaled scales the dispatchers of one contract (one consumer group) from
// one to three replicas and back to one under load; the two leave gracefully, at the same time,
// as a Deployment scaled down.
func TestDispatcherReplicasScaled(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 6)
	r := newRig(t, servers, topic)
	r.sub.slow(200 * time.Millisecond)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: 4000, Rate: 400, Prefix: "sc"}.run(ctxFor(t, 5*time.Minute))

	time.Sleep(2500 * time.Millisecond)
	b, c := r.dispatcher(false), r.dispatcher(false)
	b.WaitReady(t, 1, nil, []string{"trigger-uid"})
	c.WaitReady(t, 1, nil, []string{"trigger-uid"})
	time.Sleep(2500 * time.Millisecond)
	var wg sync.WaitGroup
	for _, p := range []interface{ Stop(testing.TB) }{b, c} {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop(t) }()
	}
	wg.Wait()
	lg.wait(t, 2*time.Minute)
	r.finish("dispatcher-scale-1-3-1", lg, 2*time.Minute)
}

// TestDeadLetterSinkDownForAWhile fails every delivery to the subscriber while the dead-letter
// sink refuses too (503) for several of the trigger's retry series, then brings the sink back.
// Every event must reach the sink, and none may be committed before the sink took it.
func TestDeadLetterSinkDownForAWhile(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	dls := newSink(t)
	dls.answer(http.StatusServiceUnavailable)
	r := newRig(t, servers, topic, func(e *contract.Egress) {
		e.DeadLetter = dls.addr
		e.Delivery.Retry = 2 // a series of subscriber or sink attempts lasts 150ms
	})
	r.sub.answer(http.StatusInternalServerError)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: 1000, Rate: 250, Prefix: "dl"}.run(ctxFor(t, 5*time.Minute))
	lg.wait(t, time.Minute)

	time.Sleep(3 * time.Second) // dozens of retry series have failed at the sink
	adm := kafkatest.Admin(t, servers)
	during := committedOffsets(t, adm, r.group, topic)
	back := time.Now()
	dls.answer(http.StatusAccepted)
	res := r.finish("dead-letter-sink-down", lg, 2*time.Minute, r.sub, dls)

	if res.lost > 0 {
		return
	}
	early := 0
	at := placements(t, servers, topic)
	for _, id := range lg.acceptedIDs() {
		took, _ := dls.has(id)
		if p := at[id]; took.After(back) && p.offset < during[p.partition] {
			if early++; early <= 10 {
				t.Logf("%s (partition %d offset %d) was committed (%d) before the sink took it", id, p.partition, p.offset, during[p.partition])
			}
		}
	}
	if early > 0 {
		t.Errorf("%d events were committed before the dead-letter sink took them", early)
	}
	if got := r.sub.accepted(); got != 0 {
		t.Errorf("the failing subscriber accepted %d events", got)
	}
}

// TestKafkaStoppedAndRestarted SIGKILLs every node of the three-node cluster under load, keeps
// Kafka down longer than the ingress's produce timeout, and starts it again. While it is down the
// ingress answers 503, never 202; afterwards everything answered 202 arrives.
func TestKafkaStoppedAndRestarted(t *testing.T) {
	c := sharedCluster(t)
	topic := kafkatest.CreateReplicatedTopic(t, c.Servers, 3, 3, replicated())
	r := newRig(t, c.Servers, topic)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: 1000, Rate: 100, Prefix: "ks"}.run(ctxFor(t, 5*time.Minute))

	time.Sleep(3 * time.Second)
	for n := 1; n <= 3; n++ {
		c.KillNode(t, n)
	}
	down := time.Now()
	time.Sleep(12 * time.Second) // the ingress's ProduceTimeout is 10s
	up := time.Now()
	c.StartNodes(t, 1, 2, 3)
	t.Logf("Kafka was down for %s and answered again %s after its restart began",
		up.Sub(down).Round(100*time.Millisecond), time.Since(up).Round(100*time.Millisecond))

	// A 202 written just as the last node died may reach the client a moment later; after that,
	// nothing can have been acknowledged.
	during := lg.answersEndedBetween(down.Add(500*time.Millisecond), up)
	t.Logf("answers while Kafka was down (0 = connection error): %v", during)
	if during[http.StatusAccepted] > 0 {
		t.Errorf("the ingress answered 202 to %d requests while Kafka was down", during[http.StatusAccepted])
	}
	if during[http.StatusServiceUnavailable] == 0 {
		t.Errorf("the ingress answered no 503 while Kafka was down")
	}
	lg.wait(t, 3*time.Minute)
	r.finish("kafka-down", lg, 3*time.Minute)
}

// TestPartitionLeaderKilled SIGKILLs the leader of partition 0 of a topic with replication 3
// and min.insync.replicas 2 under load, and restarts it five seconds later.
func TestPartitionLeaderKilled(t *testing.T) {
	c := sharedCluster(t)
	topic := kafkatest.CreateReplicatedTopic(t, c.Servers, 6, 3, replicated())
	r := newRig(t, c.Servers, topic)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: 2000, Rate: 200, Prefix: "lk"}.run(ctxFor(t, 5*time.Minute))

	time.Sleep(3 * time.Second)
	leader := leaderOf(t, c.Servers, topic, 0)
	c.KillNode(t, leader)
	killed := time.Now()
	time.Sleep(5 * time.Second)
	c.StartNode(t, leader)
	t.Logf("node %d (leader of partition 0) was down for %s", leader, time.Since(killed).Round(100*time.Millisecond))
	lg.wait(t, 3*time.Minute)
	r.finish("leader-kill", lg, 3*time.Minute)
}

// leaderOf returns the node leading partition p of topic.
func leaderOf(t *testing.T, servers []string, topic string, p int32) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	details, err := kafkatest.Admin(t, servers).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return int(details[topic].Partitions[p].Leader)
}

// committedOffsets returns the group's committed offset of each partition of topic.
func committedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// finished reports whether the load is done.
func (lg *ledger) finished() bool {
	select {
	case <-lg.done:
		return true
	default:
		return false
	}
}

// pause waits d or until the load is done; it reports whether the load is done.
func pause(lg *ledger, d time.Duration) bool {
	select {
	case <-lg.done:
		return true
	case <-time.After(d):
		return false
	}
}

// until polls cond every 50ms for at most d.
func until(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
