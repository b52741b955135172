package delivery

import (
	"errors"
	"strconv"
	"sync"
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

	// attemptSeries and outcomeSeries hold the series already used (see attempt).
	attemptSeries sync.Map // attemptKey → *attemptSeries
	outcomeSeries sync.Map // outcomeKey → prometheus.Counter
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

// The series each delivery updates are looked up once and kept: a lookup by label values hashes
// every value and takes the vector's lock, three times a delivery, and formats the status code.
// Like the vectors themselves, the cache keeps a series for as long as the process runs.

type attemptKey struct {
	egress string
	role   role
	code   int
}

type attemptSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

type outcomeKey struct {
	egress  string
	outcome Outcome
}

func (m *metrics) attempt(egress string, r role, code int, d time.Duration) {
	k := attemptKey{egress, r, code}
	v, ok := m.attemptSeries.Load(k)
	if !ok {
		v, _ = m.attemptSeries.LoadOrStore(k, &attemptSeries{
			count:   m.attempts.WithLabelValues(egress, string(r), strconv.Itoa(code)),
			latency: m.latency.WithLabelValues(egress, string(r)),
		})
	}
	a := v.(*attemptSeries)
	a.count.Inc()
	a.latency.Observe(d.Seconds())
}

func (m *metrics) outcome(egress string, o Outcome) {
	k := outcomeKey{egress, o}
	v, ok := m.outcomeSeries.Load(k)
	if !ok {
		v, _ = m.outcomeSeries.LoadOrStore(k, m.outcomes.WithLabelValues(egress, o.String()))
	}
	v.(prometheus.Counter).Inc()
}
