package dispatcher

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
)

// acquired pushes recs to l as a source does: their bytes are acquired from acct first.
func acquired(t *testing.T, l *lane, acct *membudget.Account, recs []*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		if ok, _ := acct.Acquire(recordBytes(r)); !ok {
			t.Fatalf("budget refused offset %d", r.Offset)
		}
	}
	l.push(recs[0].Topic, recs[0].Partition, recs, recs[len(recs)-1].Offset+1)
}

func keyed(from, to int64, key string) []*kgo.Record {
	rs := records(from, to)
	for _, r := range rs {
		r.Key = []byte(key)
		r.Value = make([]byte, 100)
	}
	return rs
}

// TestLaneReleasesBudgetOnEveryPath checks that the bytes of every pushed record come back:
// delivered, cancelled by the drain timeout, still queued or waiting behind a key at a
// revocation or a loss, pushed for a partition the lane does not own, or pushed after it left.
func TestLaneReleasesBudgetOnEveryPath(t *testing.T) {
	for _, order := range []contract.DeliveryOrder{contract.Ordered, contract.Unordered, contract.KeyOrdered} {
		for _, lost := range []bool{false, true} {
			t.Run(string(order)+map[bool]string{false: "/revoked", true: "/lost"}[lost], func(t *testing.T) {
				b := membudget.New(1<<30, 0, nil)
				acct := b.Open()
				up := newFakeUpstream()
				// Offsets 3 and up block until the partition's context ends.
				proc := &fakeProcessor{block: func(o int64) bool { return o >= 3 }, release: make(chan struct{})}
				cfg := defaultConfig()
				cfg.drainTimeout = 10 * time.Millisecond
				cfg.maxInFlight = 2
				m := newMetrics(prometheus.NewRegistry()).forEgress("test/lane")
				l := newLane(zaptest.NewLogger(t), order, proc, up, m, &cfg, 0, acct)
				t.Cleanup(func() { l.close(context.Background()) })
				l.assign([]partitionStart{{topic: "t", partition: 0, offset: 0}})

				acquired(t, l, acct, keyed(0, 3, "a"))
				eventually(t, "the first three delivered and released", func() bool {
					return proc.startedCount() >= 3 && acct.Held() == 0
				})
				// 3 and later block: some in flight, the rest queued or waiting behind key a.
				acquired(t, l, acct, keyed(3, 20, "a"))
				eventually(t, "a delivery blocked", func() bool { return proc.startedCount() >= 4 })
				if acct.Held() == 0 {
					t.Fatal("nothing held while records wait")
				}
				// A push for a partition the lane does not own is released at once.
				other := &kgo.Record{Topic: "t", Partition: 9, Offset: 0, Value: make([]byte, 1000)}
				before := acct.Held()
				acquired(t, l, acct, []*kgo.Record{other})
				if acct.Held() != before {
					t.Fatalf("held %d after a push for a partition not owned, want %d", acct.Held(), before)
				}
				l.revoke(context.Background(), map[string][]int32{"t": {0}}, lost)
				if got := acct.Held(); got != 0 {
					t.Fatalf("held %d after the partition was taken away, want 0", got)
				}
				// A push that raced the revocation and arrives late is released too.
				acquired(t, l, acct, keyed(20, 22, "a"))
				if got := acct.Held(); got != 0 {
					t.Fatalf("held %d after a late push, want 0", got)
				}
				if leaked := acct.Close(); leaked != 0 {
					t.Fatalf("closing the account released %d: leaked", leaked)
				}
			})
		}
	}
}
