// Package ingress is the multi-tenant HTTP ingress of brokers, channels and sinks: an Ingress
// accepts CloudEvents over HTTP (binary, structured and batch mode, CloudEvents 1.0 and 0.3),
// routes each request by path or Host through the live routing.Table to its resource's topic and
// answers 202 only once Kafka acknowledged the record with acks=all. Records are written in
// binary mode, or in structured mode for a KafkaSink whose contract entry asks for it.
//
// Apply follows the contract: it swaps an immutable snapshot (routing table, producer clients,
// per-resource metrics) through an atomic pointer, so routing a request takes no lock, and it
// keeps one kgo producer client per Kafka cluster and credentials (kafkaconn.Key of the servers
// and the resource's Security, which WithSecurity resolves), creating and closing clients as the
// contract's set of clusters — or a rotated Secret — changes. Status reports per resource whether
// the ingress really serves it; a resource whose Security cannot be built, or whose cluster
// refuses it, is answered 503 while the others keep serving.
//
// Files: ingress.go (lifecycle, Apply, Status), handler.go (HTTP), producer.go (Kafka clients and
// topic checks), metrics.go (Prometheus).
package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/data-plane/pkg/routing"
	"knkafka.dev/kafkaconn"
)

// Option configures an Ingress.
type Option func(*config)

type config struct {
	linger             time.Duration
	produceTimeout     time.Duration
	maxRequestBytes    int64
	maxBufferedBytes   int64
	maxInFlightBytes   int64
	maxRequests        int64
	bodyTimeout        time.Duration
	topicCheckInterval time.Duration
	registry           prometheus.Registerer
	security           kafkaauth.Func
}

// Linger sets how long a producer waits for more records before sending a batch; the default is
// 0 (franz-go's own default is 10ms). Every request waits for its record's acknowledgement, so a
// linger is paid in latency by every request. Without one, batching comes only from records that
// arrive while the idempotent producer has its five produce requests in flight: measured on two
// cores, about one produce request per event at 1k ev/s and 0.4–0.8 at 5k ev/s, and each request
// costs the Kafka broker about 0.1 ms of CPU. A linger of 1ms cut that to 0.5 and 0.1 requests per
// event (docs/benchmarks.md). Downstream it halves the dispatcher's fetches as well, since a fetch
// of a trickle carries what one produce request wrote: end to end at 1k ev/s, 1 ms cut the CPU of
// both roles and the broker by a fifth to a quarter for 1.2 ms of median latency
// (docs/benchmarks.md, "The pipeline's CPU per event").
func Linger(d time.Duration) Option { return func(c *config) { c.linger = d } }

// ProduceTimeout bounds how long a request waits for Kafka to acknowledge its records before the
// ingress answers 503, overriding the default 10s.
func ProduceTimeout(d time.Duration) Option { return func(c *config) { c.produceTimeout = d } }

// MaxRequestBytes caps the request body; larger requests are answered 413. It overrides the
// default 8 MiB.
func MaxRequestBytes(n int64) Option { return func(c *config) { c.maxRequestBytes = n } }

// MaxBufferedBytes caps the record bytes each producer client holds while waiting for Kafka,
// overriding the default 256 MiB; a request that finds the buffer full waits for room until its
// ProduceTimeout.
func MaxBufferedBytes(n int64) Option { return func(c *config) { c.maxBufferedBytes = n } }

// MaxInFlightBytes caps the request-body bytes held across all requests at once, overriding the
// default 128 MiB. Bodies are read in chunks and each chunk is taken from this budget before it is
// read, so memory follows the bytes that actually arrived, never a length a client announced; a
// request that finds the budget spent is answered 503 with Retry-After at once.
func MaxInFlightBytes(n int64) Option { return func(c *config) { c.maxInFlightBytes = n } }

// MaxRequests caps the event requests handled at once, overriding the default 2048; one more is
// answered 503 with Retry-After at once rather than queued.
func MaxRequests(n int64) Option { return func(c *config) { c.maxRequests = n } }

// BodyTimeout bounds how long reading one request's body may take, overriding the default 30s; a
// client that sends its body slower is answered 408 and its bytes are released.
func BodyTimeout(d time.Duration) Option { return func(c *config) { c.bodyTimeout = d } }

// TopicCheckInterval sets how often the ingress asks Kafka whether its resources' topics exist,
// for Status, overriding the default 10s. A check also runs after every Apply.
func TopicCheckInterval(d time.Duration) Option {
	return func(c *config) { c.topicCheckInterval = d }
}

// WithRegistry registers the ingress's metrics with r instead of a private registry.
func WithRegistry(r prometheus.Registerer) Option { return func(c *config) { c.registry = r } }

// WithSecurity resolves the TLS and SASL settings of each resource's producer (kafkaauth.Resolve
// over the data plane's Secrets). Without it a resource that references a Secret is not served:
// the ingress has no way to read it.
func WithSecurity(f kafkaauth.Func) Option { return func(c *config) { c.security = f } }

// Ingress is an http.Handler that writes CloudEvents into the topics of the resources of the
// contract it was last given. Create it with New.
type Ingress struct {
	logger  *zap.Logger
	cfg     config
	metrics *metrics

	// snap is what the request path reads; nil until the first Apply.
	snap   atomic.Pointer[snapshot]
	closed atomic.Bool

	// bodies is the byte budget of request bodies in memory; requests counts requests in flight.
	bodies   budget
	requests budget

	// mu serializes Apply and Close.
	mu sync.Mutex

	probe     chan struct{}
	stopProbe context.CancelFunc
	probeDone chan struct{}
}

// snapshot is one immutable generation of routing state.
type snapshot struct {
	table *routing.Table
	// keys are the producer keys (kafkaconn.Key) by resource UID; a resource that is not served
	// has none and its reason in unserved instead.
	keys     map[string]string
	unserved map[string]error
	// producers are keyed by kafkaconn.Key.
	producers map[string]*producer
	// metrics are keyed by resource UID.
	metrics map[string]*resourceMetrics
}

// New returns an Ingress that serves nothing until Apply gives it a contract.
func New(logger *zap.Logger, opts ...Option) *Ingress {
	cfg := config{
		linger:             0,
		produceTimeout:     10 * time.Second,
		maxRequestBytes:    8 << 20,
		maxBufferedBytes:   256 << 20,
		maxInFlightBytes:   128 << 20,
		maxRequests:        2048,
		bodyTimeout:        30 * time.Second,
		topicCheckInterval: 10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.registry == nil {
		cfg.registry = prometheus.NewRegistry()
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &Ingress{
		logger:    logger,
		cfg:       cfg,
		metrics:   newMetrics(cfg.registry),
		probe:     make(chan struct{}, 1),
		stopProbe: cancel,
		probeDone: make(chan struct{}),
		bodies:    budget{limit: cfg.maxInFlightBytes},
		requests:  budget{limit: cfg.maxRequests},
	}
	go i.probeTopics(ctx)
	return i
}

// Apply makes c the contract the ingress serves. The routing table is swapped atomically; a
// producer client is created for every Kafka cluster new in c and the clients of clusters no
// longer in c are flushed (bounded by ctx) and closed. c must not be modified afterwards.
//
// A cluster whose client cannot be created is reported in the returned error and in Status; the
// rest of c is applied anyway. A resource whose Security cannot be built (a missing Secret or
// key, a bad value) is reported in Status only: the contract is applied, that resource is not
// served.
func (i *Ingress) Apply(ctx context.Context, c *contract.Contract) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed.Load() {
		return errors.New("applying contract: ingress is closed")
	}
	old := i.snap.Load()
	if old == nil {
		old = &snapshot{}
	}
	next := &snapshot{
		table:     routing.NewTable(c),
		keys:      map[string]string{},
		unserved:  map[string]error{},
		producers: map[string]*producer{},
		metrics:   map[string]*resourceMetrics{},
	}
	var errs []error
	for _, route := range next.table.Routes() {
		r := route.Resource
		next.metrics[r.UID] = i.metrics.forResource(r)
		if err := i.serve(r, old, next); err != nil {
			next.unserved[r.UID] = err
			if _, credentials := kafkaconn.ReasonOf(err); credentials {
				// The contract is applied: Status says why this resource is off, and its
				// owner reports it. Failing Apply would hold back every other resource's Ready.
				i.logger.Warn("Not serving a resource: its Kafka credentials", zap.String("resource", r.Namespace+"/"+r.Name), zap.Error(err))
				continue
			}
			i.logger.Error("Not serving a resource", zap.String("resource", r.Namespace+"/"+r.Name), zap.Error(err))
			errs = append(errs, fmt.Errorf("%s/%s: %w", r.Namespace, r.Name, err))
		}
	}
	i.snap.Store(next)

	kept := make(map[string]bool, len(next.metrics))
	for _, m := range next.metrics {
		kept[m.key()] = true
	}
	for _, m := range old.metrics {
		if !kept[m.key()] {
			i.metrics.forget(m)
		}
	}
	for key, p := range old.producers {
		if _, ok := next.producers[key]; !ok {
			p.close(ctx)
		}
	}
	select {
	case i.probe <- struct{}{}:
	default:
	}
	i.logger.Info("Applied contract", zap.Uint64("generation", next.table.Generation()),
		zap.Int("resources", len(next.table.Routes())), zap.Int("producers", len(next.producers)))
	return errors.Join(errs...)
}

// serve gives r the producer of its cluster and credentials in next: the one old or next
// already has, or a new one. It returns why r cannot be served.
func (i *Ingress) serve(r *contract.Resource, old, next *snapshot) error {
	var sec *kafkaconn.Security
	var err error
	switch {
	case i.cfg.security != nil:
		sec, err = i.cfg.security(r)
	case len(kafkaauth.ResourceRefs(r)) > 0:
		err = fmt.Errorf("%w: this ingress reads no Secrets", kafkaconn.SecretNotFound(kafkaauth.ResourceRefs(r)[0].String()))
	}
	if err != nil {
		return err
	}
	key := kafkaconn.Key(r.BootstrapServers, sec)
	next.keys[r.UID] = key
	if _, ok := next.producers[key]; ok {
		return nil
	}
	if p, ok := old.producers[key]; ok {
		next.producers[key] = p
		return nil
	}
	p, err := i.newProducer(r, sec)
	if err != nil {
		delete(next.keys, r.UID)
		return fmt.Errorf("creating kafka producer for %v: %w", r.BootstrapServers, err)
	}
	next.producers[key] = p
	return nil
}

// Status reports, per resource UID, whether the ingress serves it: ready once its producer
// client exists and its topic is known to exist; otherwise a Reason and Message say why not. A
// resource whose Secret is missing or refused, or whose cluster refuses its credentials, has the
// kafkaconn.Reason as Reason and a Message naming the Secret and key.
func (i *Ingress) Status() map[string]contract.ServingStatus {
	s := i.snap.Load()
	if s == nil {
		return map[string]contract.ServingStatus{}
	}
	out := make(map[string]contract.ServingStatus, len(s.table.Routes()))
	for _, route := range s.table.Routes() {
		r := route.Resource
		p, ok := s.producer(r.UID)
		if !ok {
			out[r.UID] = unservedStatus(s.unserved[r.UID])
			continue
		}
		out[r.UID] = p.topicStatus(r)
	}
	return out
}

// producer returns the producer of the resource with uid, if it is served.
func (s *snapshot) producer(uid string) (*producer, bool) {
	key, ok := s.keys[uid]
	if !ok {
		return nil, false
	}
	p, ok := s.producers[key]
	return p, ok
}

// unservedStatus is the status of a resource that has no producer because of err.
func unservedStatus(err error) contract.ServingStatus {
	if err == nil {
		return contract.ServingStatus{Reason: ReasonProducerUnavailable, Message: "no Kafka producer"}
	}
	if reason, ok := kafkaconn.ReasonOf(err); ok {
		return contract.ServingStatus{Reason: string(reason), Message: err.Error()}
	}
	return contract.ServingStatus{Reason: ReasonProducerUnavailable, Message: err.Error()}
}

// Close stops accepting events, flushes what the producers hold (bounded by ctx) and closes
// them. It is idempotent; requests served after Close are answered 503.
func (i *Ingress) Close(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed.Swap(true) {
		return nil
	}
	i.stopProbe()
	<-i.probeDone
	var errs []error
	if s := i.snap.Load(); s != nil {
		for _, p := range s.producers {
			if err := p.close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// probeTopics checks, after each Apply and every TopicCheckInterval, which topics exist.
func (i *Ingress) probeTopics(ctx context.Context) {
	defer close(i.probeDone)
	t := time.NewTicker(i.cfg.topicCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-i.probe:
		case <-t.C:
		}
		s := i.snap.Load()
		if s == nil {
			continue
		}
		topics := map[*producer][]string{}
		for _, route := range s.table.Routes() {
			if p, ok := s.producer(route.Resource.UID); ok {
				topics[p] = append(topics[p], route.Resource.Topic)
			}
		}
		for p, ts := range topics {
			p.checkTopics(ctx, i.cfg.produceTimeout, ts)
		}
	}
}
