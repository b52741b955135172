package dispatcher

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// TestMemoryBudgetHoldsWithManyLaggingEgresses runs 200 Triggers, each with a consumer of its own, behind a backlog whose
// subscriber is stuck (then slow) beside one Trigger with a fast subscriber, under a budget far
// smaller than the backlog they would otherwise buffer (200 × 120 records of ~1.3 KiB ≈ 31 MiB,
// against 1 MiB). Through the budget's own accounting it checks that the bytes held never pass the
// bound (the limit plus one record per egress), that the fast Trigger delivers its whole backlog
// while the others are stuck, and that every event eventually reaches every Trigger.
func TestMemoryBudgetHoldsWithManyLaggingEgresses(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 2)
	const (
		lagging = 200
		events  = 120
		limit   = 1 << 20
	)
	pad := strings.Repeat("x", 1000)
	cl := newProducer(t, servers)
	for i := range events {
		produce(t, cl, topic, int32(i%2), newEvent("e-"+strconv.Itoa(i), "t", "pad", pad))
	}

	slow := newGatedRecorder(t, 5*time.Millisecond)
	fast := newSubscriber(t, nil)

	reg := prometheus.NewRegistry()
	d := newDispatcher(t, MemoryBudget(limit, 0), WithRegistry(reg), SharedReads(false))
	egs := []contract.Egress{newEgress(t, "fast", fast.URL, withInitialOffset(contract.OffsetEarliest))}
	uids := []string{egs[0].UID}
	for i := range lagging {
		name := fmt.Sprintf("lag%03d", i)
		egs = append(egs, newEgress(t, name, slow.URL+"/"+name, withInitialOffset(contract.OffsetEarliest)))
		uids = append(uids, egs[len(egs)-1].UID)
	}

	// Sample the budget's accounting throughout: it must never pass the bound.
	maxRecord := recordBytes(encoded(t, newEvent("e-"+strconv.Itoa(events), "t", "pad", pad)))
	bound := int64(limit) + int64(lagging+1)*maxRecord
	stopSampling := make(chan struct{})
	sampled := make(chan int64)
	go func() {
		var peak int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				sampled <- peak
				return
			case <-tick.C:
				peak = max(peak, d.budget.Used())
			}
		}
	}()

	apply(t, d, newContract(servers, topic, egs...))
	waitReady(t, d, uids...)

	// The lagging Triggers are stuck, holding their share; the fast one still delivers
	// everything.
	eventually(t, "the fast trigger delivers its backlog beside 200 stuck ones", func() bool { return fast.count() >= events })
	eventually(t, "the stuck triggers hold budget", func() bool { return slow.stuckIn.Load() >= lagging })
	if used := d.budget.Used(); used < limit/2 || used > bound {
		t.Errorf("with 200 triggers stuck the budget holds %d bytes; want between %d and the bound %d", used, limit/2, bound)
	}
	if g := testutil.ToFloat64(d.metrics.bufferedBytes); int64(g) != d.budget.Used() {
		t.Errorf("buffered_bytes gauge %v, budget %d", g, d.budget.Used())
	}
	if n := testutil.CollectAndCount(reg, "knkafka_dispatcher_buffered_bytes", "knkafka_dispatcher_memory_budget_bytes"); n != 2 {
		t.Errorf("%d budget series registered, want 2", n)
	}
	t.Logf("stuck: %d deliveries waiting, %d bytes held of %d (bound %d)", slow.stuckIn.Load(), d.budget.Used(), limit, bound)

	close(slow.gate)
	eventually(t, "every event delivered to every trigger", func() bool { return slow.all(lagging, events) })
	for id, n := range fast.ids() {
		if n == 0 {
			t.Errorf("fast trigger: %s missing", id)
		}
	}
	if len(fast.ids()) != events {
		t.Errorf("fast trigger got %d distinct events, want %d", len(fast.ids()), events)
	}
	close(stopSampling)
	peak := max(<-sampled, d.budget.Peak())
	if peak > bound {
		t.Fatalf("the budget held %d bytes at its peak, above the bound %d", peak, bound)
	}
	// Everything finished: nothing is held any more.
	eventually(t, "the budget drained", func() bool { return d.budget.Used() == 0 })
	t.Logf("peak %d bytes held (limit %d, bound %d); the backlog was %d bytes per trigger", peak, limit, bound, events*maxRecord)
}

// encoded is e as the ingress writes it.
func encoded(t *testing.T, e *event.Event) *kgo.Record {
	t.Helper()
	r, err := cekafka.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
