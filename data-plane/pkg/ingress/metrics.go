package ingress

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"knkafka.dev/control-plane/pkg/contract"
)

// metrics are the ingress's Prometheus collectors, labelled by resource (namespace, name, kind).
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	// unrouted counts requests that matched no resource.
	unrouted *resourceMetrics
	// produceRequests counts the produce requests the producers wrote to Kafka: against
	// requests_total it gives the requests Kafka handles per event.
	produceRequests prometheus.Counter
}

var resourceLabels = []string{"namespace", "name", "kind"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka",
			Subsystem: "ingress",
			Name:      "requests_total",
			Help:      "HTTP requests by resource and response code.",
		}, append(resourceLabels, "code")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "knkafka",
			Subsystem: "ingress",
			Name:      "produce_duration_seconds",
			Help:      "Time from handing a request's records to Kafka until Kafka acknowledged them or the ingress gave up.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2, 15),
		}, resourceLabels),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "knkafka",
			Subsystem: "ingress",
			Name:      "request_bytes_total",
			Help:      "Request body bytes received by resource.",
		}, resourceLabels),
		produceRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "knkafka",
			Subsystem: "ingress",
			Name:      "kafka_produce_requests_total",
			Help:      "Produce requests written to Kafka, across all clusters.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.bytesIn, m.produceRequests)
	// Only requests that never reach a resource are counted here, so only the request counter.
	m.unrouted = &resourceMetrics{requests: m.requests.MustCurryWith(prometheus.Labels{"namespace": "", "name": "", "kind": ""})}
	return m
}

// resourceMetrics are the collectors of one resource, resolved once per Apply so that a request
// does not hash its labels.
type resourceMetrics struct {
	labels   prometheus.Labels
	requests *prometheus.CounterVec
	latency  prometheus.Observer
	bytesIn  prometheus.Counter
	// accepted is requests for code 202, the common case.
	accepted prometheus.Counter
}

func (m *metrics) forResource(r *contract.Resource) *resourceMetrics {
	labels := prometheus.Labels{"namespace": r.Namespace, "name": r.Name, "kind": r.Kind}
	requests := m.requests.MustCurryWith(labels)
	return &resourceMetrics{
		labels:   labels,
		requests: requests,
		latency:  m.latency.With(labels),
		bytesIn:  m.bytesIn.With(labels),
		accepted: requests.WithLabelValues("202"),
	}
}

// forget drops the series of a resource that left the contract.
func (m *metrics) forget(rm *resourceMetrics) {
	m.requests.DeletePartialMatch(rm.labels)
	m.latency.Delete(rm.labels)
	m.bytesIn.Delete(rm.labels)
}

// count records one answered request.
func (rm *resourceMetrics) count(code int) {
	if code == 202 && rm.accepted != nil {
		rm.accepted.Inc()
		return
	}
	rm.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// key identifies a resource's series.
func (rm *resourceMetrics) key() string {
	return rm.labels["kind"] + "/" + rm.labels["namespace"] + "/" + rm.labels["name"]
}

// requestHook is the producers' franz-go hook counting the produce requests they write: one
// atomic add per request, so it stays on in production.
type requestHook struct{ produce prometheus.Counter }

var _ kgo.HookBrokerWrite = requestHook{}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (h requestHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.Produce.Int16() && err == nil {
		h.produce.Inc()
	}
}
