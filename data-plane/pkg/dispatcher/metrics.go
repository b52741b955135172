package dispatcher

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"knkafka.dev/data-plane/pkg/delivery"
)

// Outcomes counted by the dispatched metric, besides delivery's Outcome names.
const (
	outcomeFiltered    = "filtered"
	outcomeUndecodable = "undecodable"
	outcomeReplyFailed = "reply_failed"
)

// metrics are the dispatcher's Prometheus collectors, labelled by egress ("namespace/name", the
// label delivery's metrics use too).
type metrics struct {
	dispatched *prometheus.CounterVec
	inFlight   *prometheus.GaugeVec
	lag        *prometheus.GaugeVec
	// bufferedBytes and budgetBytes are the memory budget's bytes in use and its limit.
	bufferedBytes prometheus.Gauge
	budgetBytes   prometheus.Gauge
	// sharedReaders counts the running shared readers; catchUps counts lanes detaching from
	// one (to read on their own) and rejoining it.
	sharedReaders prometheus.Gauge
	catchUps      *prometheus.CounterVec

	// users counts the egresses using each label: two egresses may share one ("namespace/name"
	// of a Trigger and of a Subscription, or an egress being replaced), and each holds its
	// series' children, so a label's series are deleted only when its last egress forgets them.
	mu    sync.Mutex
	users map[string]int
	// onForget, when set, is called with a label whose last egress stopped (under mu), so that
	// the delivery metrics of the label go too (the Dispatcher's Sender.Forget).
	onForget func(label string)
}

func newMetrics(r prometheus.Registerer) *metrics {
	return &metrics{
		dispatched: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "events_total",
			Help: "Records handled per egress by outcome: delivered, dead_lettered, failed, filtered, undecodable, reply_failed.",
		}, []string{"egress", "outcome"})),
		inFlight: register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "in_flight",
			Help: "Records being delivered per egress.",
		}, []string{"egress"})),
		lag: register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "consumer_lag",
			Help: "Records between the committable offset and the last fetched high watermark, summed over the egress's partitions on this replica (approximate).",
		}, []string{"egress"})),
		bufferedBytes: register(r, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "buffered_bytes",
			Help: "Bytes of fetched records not finished yet, across all egresses: the memory budget in use.",
		})),
		budgetBytes: register(r, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "memory_budget_bytes",
			Help: "The memory budget: the bound on buffered_bytes, beyond one record per egress that holds nothing else.",
		})),
		sharedReaders: register(r, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "shared_readers",
			Help: "Shared readers running: one per Kafka cluster and topic that Triggers or Subscriptions read.",
		})),
		catchUps: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka", Subsystem: "dispatcher", Name: "lane_catch_ups_total",
			Help: "Partitions of an egress that left a shared reader to catch up on their own (event=detach) and came back (event=rejoin).",
		}, []string{"event"})),
		users: map[string]int{},
	}
}

// register registers c with r, or reuses the collector r already holds under the same name.
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a name clash with a different collector type is a programming error
	}
	return c
}

// egressMetrics are the collectors of one egress.
type egressMetrics struct {
	label    string
	all      *metrics
	inFlight prometheus.Gauge
	lag      prometheus.Gauge
	// outcomes caches the dispatched counter of each outcome seen, in outcomeNames' order:
	// looking a series up by its labels hashes them, and a lane of a Trigger filtering a busy
	// topic counts an outcome for every record of it.
	outcomes [len(outcomeNames)]atomic.Pointer[counter]
	// forgotten, guarded by all.mu, makes forget count once.
	forgotten bool
}

func (m *metrics) forEgress(label string) *egressMetrics {
	m.mu.Lock()
	m.users[label]++
	m.mu.Unlock()
	return &egressMetrics{
		label:    label,
		all:      m,
		inFlight: m.inFlight.WithLabelValues(label),
		lag:      m.lag.WithLabelValues(label),
	}
}

// outcomeNames are the outcomes egressMetrics caches a counter for.
var outcomeNames = [...]string{
	delivery.Delivered.String(), delivery.DeadLettered.String(), delivery.Failed.String(),
	outcomeFiltered, outcomeUndecodable, outcomeReplyFailed,
}

type counter struct{ prometheus.Counter }

func (m *egressMetrics) outcome(o string) {
	i := slices.Index(outcomeNames[:], o)
	if i < 0 {
		m.all.dispatched.WithLabelValues(m.label, o).Inc()
		return
	}
	c := m.outcomes[i].Load()
	if c == nil {
		c = &counter{m.all.dispatched.WithLabelValues(m.label, o)}
		m.outcomes[i].Store(c)
	}
	c.Inc()
}

// forget drops the egress's series once it stopped, unless another egress still uses its label.
func (m *egressMetrics) forget() {
	m.all.mu.Lock()
	defer m.all.mu.Unlock()
	if m.forgotten {
		return
	}
	m.forgotten = true
	if m.all.users[m.label]--; m.all.users[m.label] > 0 {
		return
	}
	delete(m.all.users, m.label)
	m.all.inFlight.DeleteLabelValues(m.label)
	m.all.lag.DeleteLabelValues(m.label)
	m.all.dispatched.DeletePartialMatch(prometheus.Labels{"egress": m.label})
	if m.all.onForget != nil {
		m.all.onForget(m.label)
	}
}
