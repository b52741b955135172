package dispatcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"knkafka.dev/data-plane/pkg/delivery"
)

// Two egresses may share a label (a Trigger and a Subscription of one namespace and name): the
// one that stops first must not delete the series the other still counts into — each egress
// keeps its series' children, so a deleted series would silently stop being exported.
func TestEgressMetricsSharedLabelOutlivesTheFirstToStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	var forgotten []string
	m.onForget = func(label string) { forgotten = append(forgotten, label) }
	first, second := m.forEgress("ns/name"), m.forEgress("ns/name")
	first.outcome("delivered")
	second.outcome("delivered")
	first.forget()
	first.forget() // counted once
	second.outcome("delivered")
	if got := testutil.ToFloat64(m.dispatched.WithLabelValues("ns/name", "delivered")); got != 3 {
		t.Fatalf("delivered = %v after the first egress stopped, want 3 (the series was dropped under the second)", got)
	}
	if len(forgotten) != 0 {
		t.Fatalf("the label's delivery metrics were dropped (%v) while the second egress still counts into them", forgotten)
	}
	second.forget()
	if n := testutil.CollectAndCount(m.dispatched); n != 0 {
		t.Fatalf("%d dispatched series left after both egresses stopped, want 0", n)
	}
	if len(forgotten) != 1 || forgotten[0] != "ns/name" {
		t.Fatalf("delivery metrics forgotten for %v once both egresses stopped, want [ns/name]", forgotten)
	}
}

// When the last egress of a label stops, the Dispatcher's Sender drops that label's delivery
// series too: a process whose Triggers come and go must not keep a series for each one forever.
func TestStoppedEgressTakesItsDeliverySeriesWithIt(t *testing.T) {
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(sub.Close)
	reg := prometheus.NewRegistry()
	sender := delivery.NewSender(zap.NewNop(), delivery.WithRegistry(reg))
	d := New(zap.NewNop(), sender)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	series := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "egress" && l.GetValue() == "ns/gone" {
						n++
					}
				}
			}
		}
		return n
	}
	m := d.metrics.forEgress("ns/gone")
	e := event.New()
	e.SetID("1")
	e.SetType("t")
	e.SetSource("/s")
	if res := sender.Deliver(context.Background(), &e, sender.Prepare(delivery.Target{URL: sub.URL, Egress: "ns/gone"})); res.Outcome != delivery.Delivered {
		t.Fatalf("delivery: %v (%v)", res.Outcome, res.Err)
	}
	if n := series(); n == 0 {
		t.Fatal("the delivery made no series for ns/gone; the test cannot see them go")
	}
	m.forget()
	if n := series(); n != 0 {
		t.Fatalf("%d delivery series of ns/gone left after its egress stopped, want 0", n)
	}
}
