package dispatcher

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two egresses may share a label (a Trigger and a Subscription of one namespace and name): the
// one that stops first must not delete the series the other still counts into — each egress
// keeps its series' children, so a deleted series would silently stop being exported.
func TestEgressMetricsSharedLabelOutlivesTheFirstToStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	first, second := m.forEgress("ns/name"), m.forEgress("ns/name")
	first.outcome("delivered")
	second.outcome("delivered")
	first.forget()
	first.forget() // counted once
	second.outcome("delivered")
	if got := testutil.ToFloat64(m.dispatched.WithLabelValues("ns/name", "delivered")); got != 3 {
		t.Fatalf("delivered = %v after the first egress stopped, want 3 (the series was dropped under the second)", got)
	}
	second.forget()
	if n := testutil.CollectAndCount(m.dispatched); n != 0 {
		t.Fatalf("%d dispatched series left after both egresses stopped, want 0", n)
	}
}
