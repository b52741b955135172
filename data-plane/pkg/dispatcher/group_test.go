package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
)

func TestTwoDispatchersShareAGroupThroughRebalancesWithoutLoss(t *testing.T) {
	for _, order := range []contract.DeliveryOrder{contract.Ordered, contract.Unordered} {
		t.Run(string(order), func(t *testing.T) {
			servers := kafkatest.Bootstrap(t)
			topic := kafkatest.CreateTopic(t, servers, 4)
			const n = 400
			sub := newSubscriber(t, func(http.ResponseWriter, received) int {
				time.Sleep(time.Millisecond) // keep deliveries in flight across rebalances
				return http.StatusOK
			})
			eg := newEgress(t, "shared", sub.URL, withOrder(order))
			c := newContract(servers, topic, eg)

			a := newDispatcher(t)
			apply(t, a, c)
			waitReady(t, a, eg.UID)

			b := newDispatcher(t)
			p := newProducer(t, servers)
			for i := range n {
				switch i {
				case n / 4:
					apply(t, b, c) // b joins: the group rebalances mid-stream
				case n / 2:
					waitReady(t, b, eg.UID)
				case 3 * n / 4:
					// a leaves mid-stream: it commits what it completed and b takes over.
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					if err := a.Close(ctx); err != nil {
						t.Fatalf("closing a: %v", err)
					}
					cancel()
				}
				produce(t, p, topic, int32(i%4), newEvent(fmt.Sprintf("r-%d", i), "t"))
			}
			eventually(t, "every event delivered", func() bool { return len(sub.ids()) == n })
			if dups := sub.count() - n; dups > 0 {
				t.Logf("%d redeliveries (at least once)", dups)
			}
			// Everything ends up committed by b.
			adm := kafkatest.Admin(t, servers)
			eventually(t, "everything committed", func() bool {
				var sum int64
				for _, o := range committed(t, adm, eg.ConsumerGroup, topic) {
					sum += o
				}
				return sum == n
			})
		})
	}
}

func TestApplyRestartsOnlyWhatChanged(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	subX, subY, subY2 := newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil)
	// Commits happen only when starting (the resolved start) and when stopping, so the commit
	// seen after removing x is the one its stop made.
	d := newDispatcher(t, CommitInterval(time.Hour))
	x := newEgress(t, "x", subX.URL)
	y := newEgress(t, "y", subY.URL)
	apply(t, d, newContract(servers, topic, x, y))
	waitReady(t, d, x.UID, y.UID)
	adm := kafkatest.Admin(t, servers)
	startX := committed(t, adm, x.ConsumerGroup, topic)[0]

	running := func() map[string]*egress {
		d.mu.Lock()
		defer d.mu.Unlock()
		out := map[string]*egress{}
		for k, v := range d.running {
			out[k] = v
		}
		return out
	}
	before := running()

	// The same contract at a new generation: nothing restarts.
	c := newContract(servers, topic, x, y)
	c.Generation = 2
	apply(t, d, c)
	if after := running(); after[x.UID] != before[x.UID] || after[y.UID] != before[y.UID] {
		t.Fatal("an unchanged contract restarted egresses")
	}

	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("one", "t"))
	eventually(t, "x and y got one", func() bool { return subX.count() == 1 && subY.count() == 1 })

	// y changes destination: only y restarts, and resumes from its committed offset.
	y.Destination = subY2.URL
	apply(t, d, newContract(servers, topic, x, y))
	after := running()
	if after[x.UID] != before[x.UID] {
		t.Error("x restarted although it did not change")
	}
	if after[y.UID] == before[y.UID] {
		t.Error("y kept running although its destination changed")
	}
	produce(t, p, topic, 0, newEvent("two", "t"))
	eventually(t, "y's new destination got two", func() bool { return subY2.count() == 1 })
	eventually(t, "x got two", func() bool { return subX.count() == 2 })
	if diff := cmp.Diff(map[string]int{"one": 1}, subY.ids()); diff != "" {
		t.Errorf("y's old destination (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"two": 1}, subY2.ids()); diff != "" {
		t.Errorf("y's new destination (-want +got):\n%s", diff)
	}

	// x is removed: it stops, committing its completed work, and is no longer reported.
	apply(t, d, newContract(servers, topic, y))
	if _, ok := d.Status()[x.UID]; ok {
		t.Error("a removed egress is still reported")
	}
	if got := committed(t, adm, x.ConsumerGroup, topic)[0]; got != startX+2 {
		t.Errorf("x's committed offset after removal = %d, want %d", got, startX+2)
	}
	produce(t, p, topic, 0, newEvent("three", "t"))
	eventually(t, "y got three", func() bool { return subY2.count() == 2 })
	if subX.count() != 2 {
		t.Errorf("removed egress x got %d events, want 2", subX.count())
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	sub := newSubscriber(t, nil)
	d := newDispatcher(t)
	eg := newEgress(t, "close", sub.URL)
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if err := d.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Apply(ctx, newContract(servers, topic, eg)); err == nil {
		t.Fatal("Apply after Close succeeded")
	}
}

func TestInvalidEgressIsReportedAndOthersRun(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	sub := newSubscriber(t, nil)
	d := newDispatcher(t)
	good := newEgress(t, "good", sub.URL)
	bad := newEgress(t, "bad", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Apply(ctx, newContract(servers, topic, good, bad)); err == nil {
		t.Fatal("Apply accepted an egress without a destination")
	}
	waitReady(t, d, good.UID)
	if st := d.Status()[bad.UID]; st.Ready || st.Reason != ReasonInvalidEgress {
		t.Fatalf("status of the invalid egress = %+v, want reason %s", st, ReasonInvalidEgress)
	}
}
