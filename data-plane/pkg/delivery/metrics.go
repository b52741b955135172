package delivery

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Sender's Prometheus collectors.
type metrics struct {
	// attempts counts HTTP exchanges by egress, role (subscriber, dead_letter, reply) and response
	// code ("0" when there was no response).
	attempts *prometheus.CounterVec
	// latency observes each exchange's duration by egress and role.
	latency *prometheus.HistogramVec
	// outcomes counts Deliver results by egress and outcome.
	outcomes *prometheus.CounterVec

	// series holds each egress label's series (see egressSeries).
	series sync.Map // egress label → *egressSeries
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka", Subsystem: "dispatch", Name: "requests_total",
			Help: "HTTP requests made to deliver events, by egress, role and response code (0 for no response).",
		}, []string{"egress", "role", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "knkafka", Subsystem: "dispatch", Name: "latency_seconds",
			Help:    "Duration of HTTP requests made to deliver events, by egress and role.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms to ~41s
		}, []string{"egress", "role"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka", Subsystem: "dispatch", Name: "events_total",
			Help: "Events dispatched, by egress and outcome (delivered, dead_lettered, failed).",
		}, []string{"egress", "outcome"}),
	}
	if r != nil {
		m.attempts = register(r, m.attempts)
		m.latency = register(r, m.latency)
		m.outcomes = register(r, m.outcomes)
	}
	return m
}

// register registers c with r, or returns the equal collector r already has.
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A conflicting collector of another shape: keep ours unregistered rather than fail
		// delivery over metrics.
	}
	return c
}

// The series each delivery updates are looked up once per egress and kept (egressSeries): a
// lookup by label values hashes every value and takes the vector's lock, three times a delivery,
// and formats the status code. They are kept until Sender.Forget drops them with the egress.

// roles indexes an egressSeries's per-role series.
var roles = [...]role{roleSubscriber, roleDeadLetter, roleReply}

func (r role) index() int {
	switch r {
	case roleDeadLetter:
		return 1
	case roleReply:
		return 2
	default:
		return 0
	}
}

// egressSeries holds the series of one egress label, each made on first use so that an egress
// shows only the roles, codes and outcomes it met.
type egressSeries struct {
	m      *metrics
	egress string
	// codes holds, per role, the attempts counter of the code last answered: one code (2xx)
	// answers almost every attempt, and another one replaces it.
	codes [len(roles)]atomic.Pointer[codeCounter]
	// latency holds, per role, the duration histogram.
	latency [len(roles)]atomic.Pointer[observer]
	// outcomes holds, per Outcome (1-based), the events counter.
	outcomes [int(Failed)]atomic.Pointer[counter]
}

type codeCounter struct {
	code  int
	count prometheus.Counter
}

type observer struct{ prometheus.Observer }

type counter struct{ prometheus.Counter }

// forEgress returns the series of egress, made once.
func (m *metrics) forEgress(egress string) *egressSeries {
	if v, ok := m.series.Load(egress); ok {
		return v.(*egressSeries)
	}
	v, _ := m.series.LoadOrStore(egress, &egressSeries{m: m, egress: egress})
	return v.(*egressSeries)
}

func (e *egressSeries) attempt(r role, code int, d time.Duration) {
	i := r.index()
	c := e.codes[i].Load()
	if c == nil || c.code != code {
		c = &codeCounter{code: code, count: e.m.attempts.WithLabelValues(e.egress, string(r), strconv.Itoa(code))}
		e.codes[i].Store(c)
	}
	c.count.Inc()
	o := e.latency[i].Load()
	if o == nil {
		o = &observer{e.m.latency.WithLabelValues(e.egress, string(r))}
		e.latency[i].Store(o)
	}
	o.Observe(d.Seconds())
}

func (e *egressSeries) outcome(o Outcome) {
	i := int(o) - 1
	if i < 0 || i >= len(e.outcomes) {
		e.m.outcomes.WithLabelValues(e.egress, o.String()).Inc()
		return
	}
	c := e.outcomes[i].Load()
	if c == nil {
		c = &counter{e.m.outcomes.WithLabelValues(e.egress, o.String())}
		e.outcomes[i].Store(c)
	}
	c.Inc()
}

// forget drops egress's series from the cache and the collectors.
func (m *metrics) forget(egress string) {
	m.series.Delete(egress)
	l := prometheus.Labels{"egress": egress}
	m.attempts.DeletePartialMatch(l)
	m.latency.DeletePartialMatch(l)
	m.outcomes.DeletePartialMatch(l)
}
