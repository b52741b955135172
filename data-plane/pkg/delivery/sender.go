// Package delivery delivers one CloudEvent to a subscriber over HTTP the way Knative specifies:
// binary-mode POST with `Prefer: reply`, retries per the delivery spec (retry, backoffPolicy,
// backoffDelay, timeout, retryAfterMax), then the dead-letter sink with the knativeerror*
// extensions.
//
// A Sender (one per dispatcher process, safe for concurrent use) does the work; a Target says
// where one event goes and how hard to try; a Result reports the Outcome (Delivered, DeadLettered
// or Failed), the last status, the subscriber's reply event and the attempts made. IsRetryable and
// Backoff are the spec's retry rules as pure functions.
//
// Why not knative.dev/eventing/pkg/kncloudevents: its Dispatcher keeps a process-wide client map
// with a cleanup goroutine started in init(), resolves OIDC/TLS/event-type collaborators we do not
// use, and retries through hashicorp/go-retryablehttp, which sleeps on the wall clock (retries
// could not be tested without real waits) and is not a dependency of ours. Its retry rules are
// small, so they are restated here (retry.go) and table-tested; the extension names come from the
// light kncloudevents/attributes package (it imports only the CloudEvents SDK) so the two cannot
// drift.
package delivery

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/h1transport"
)

// Defaults of the Sender's options.
const (
	defaultTimeout           = 30 * time.Second
	defaultMaxErrorDataBytes = 1 << 10
	// maxReplyBytes bounds the 2xx response body read for a reply event.
	maxReplyBytes = 4 << 20
	// maxDrainBytes bounds what is read and discarded from a body nobody needs so the
	// connection can be reused; a longer body costs its connection instead of our time.
	maxDrainBytes = 256 << 10
)

// Header names the delivery spec requires.
const (
	headerPrefer      = "Prefer"
	headerKnNamespace = "Kn-Namespace"
	headerRetryAfter  = "Retry-After"
)

// Outcome is how a delivery ended. The zero value is not a valid outcome.
type Outcome int

// Outcomes of Deliver and Send.
const (
	// Delivered means the destination answered 2xx.
	Delivered Outcome = iota + 1
	// DeadLettered means the subscriber failed and the dead-letter sink answered 2xx.
	DeadLettered
	// Failed means the subscriber failed and there is no dead-letter sink, or the sink refused the
	// event for good (a non-retryable answer), or the context was cancelled — then Err is ctx.Err()
	// and the caller must not commit the event's offset. A sink that fails retryably is never
	// Failed: Deliver keeps trying it until it takes the event or the context ends.
	Failed
)

// String returns the outcome's lower-case name, as used in metrics.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case DeadLettered:
		return "dead_lettered"
	case Failed:
		return "failed"
	default:
		return "unknown"
	}
}

// Target is where Deliver sends one event and how hard it tries.
type Target struct {
	// URL is the subscriber.
	URL string
	// DeadLetter is the dead-letter sink URL; "" for none.
	DeadLetter string
	// Delivery holds retry, backoffPolicy, backoffDelay, timeout and retryAfterMax.
	Delivery contract.Delivery
	// Namespace is sent as the Kn-Namespace header.
	Namespace string
	// Egress labels logs and metrics (egress UID or namespace/name).
	Egress string
	// Header holds extra headers to send (e.g. traceparent, tracestate); may be nil.
	Header http.Header

	// Set by Sender.Prepare: the parsed URL and DeadLetter (nil: parsed per request) and the
	// egress's metric series (nil: looked up per delivery).
	url, deadLetter *url.URL
	series          *egressSeries
}

// Prepare returns t with what every delivery to it would otherwise work out again: its URLs
// parsed and its metric series looked up. A caller delivering many events to one destination
// prepares its Target once and delivers copies of it, setting Header per event as it likes; the
// other fields of a prepared Target must not change (a changed URL would still go to the old one).
func (s *Sender) Prepare(t Target) Target {
	t.url, t.deadLetter = parseURL(t.URL), parseURL(t.DeadLetter)
	t.series = s.metrics.forEgress(t.Egress)
	return t
}

// Forget drops the metric series of egress (the Target.Egress label), once nothing delivers for it
// any more: without it, every egress that ever existed would keep its series, and a process whose
// Triggers come and go would grow without bound. A Target prepared before keeps counting into
// series no longer exported; one made or prepared after starts them afresh.
func (s *Sender) Forget(egress string) { s.metrics.forget(egress) }

// parseURL parses raw as http.NewRequest would, or returns nil when it cannot (or raw is empty):
// the request is then built from raw, and fails there with the reason.
func parseURL(raw string) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	if strings.LastIndex(u.Host, ":") > strings.LastIndex(u.Host, "]") {
		u.Host = strings.TrimSuffix(u.Host, ":") // an empty port, dropped as http.NewRequest does
	}
	return u
}

// Result reports how a delivery ended.
type Result struct {
	// Outcome is how the delivery ended.
	Outcome Outcome
	// StatusCode is the last status the subscriber answered; 0 for a network error.
	StatusCode int
	// Reply is the CloudEvent in the subscriber's 2xx response (binary or structured mode); nil
	// when the response held none, or an invalid one.
	Reply *event.Event
	// Attempts counts the requests made to the subscriber (not to the dead-letter sink).
	Attempts int
	// Err is the last error when Outcome is not Delivered; exactly ctx.Err() when the context
	// ended the delivery.
	Err error
}

// Sender delivers events over HTTP. It is safe for concurrent use; use one per dispatcher process
// so that all deliveries share one connection pool.
type Sender struct {
	logger *zap.Logger
	client *http.Client
	// direct is the transport of the Sender's own client, which attempts call without the client
	// when nothing the client adds is needed (see do); nil with WithHTTPClient.
	direct            *h1transport.Transport
	timeout           time.Duration
	maxErrorDataBytes int
	registry          prometheus.Registerer
	metrics           *metrics
	sleep             func(ctx context.Context, d time.Duration) error
	now               func() time.Time
}

// Option configures a Sender.
type Option func(*Sender)

// DefaultTimeout bounds each attempt whose Delivery sets no timeout; the default is 30s.
func DefaultTimeout(d time.Duration) Option {
	return func(s *Sender) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// MaxErrorDataBytes caps how many bytes of a failed subscriber's response body are base64-encoded
// into knativeerrordata; the default is 1 KiB. Zero or less omits knativeerrordata.
func MaxErrorDataBytes(n int) Option {
	return func(s *Sender) { s.maxErrorDataBytes = max(n, 0) }
}

// WithHTTPClient makes the Sender use c instead of its own client with a tuned transport. The
// client's Timeout should be zero: per-attempt timeouts come from the delivery settings.
func WithHTTPClient(c *http.Client) Option {
	return func(s *Sender) {
		if c != nil {
			s.client = c
		}
	}
}

// WithRegistry registers the Sender's metrics with r; by default they are not registered.
// Collectors r already holds under the same names are reused, so several Senders may share r.
func WithRegistry(r prometheus.Registerer) Option {
	return func(s *Sender) { s.registry = r }
}

// withSleep replaces the wait between attempts, for tests.
func withSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(s *Sender) { s.sleep = f }
}

// withNow replaces the clock used to read Retry-After dates, for tests.
func withNow(f func() time.Time) Option {
	return func(s *Sender) { s.now = f }
}

// NewSender returns a Sender that logs to logger (nil for none).
func NewSender(logger *zap.Logger, opts ...Option) *Sender {
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Sender{
		logger:            logger,
		timeout:           defaultTimeout,
		maxErrorDataBytes: defaultMaxErrorDataBytes,
		sleep:             sleepContext,
		now:               time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.client == nil {
		s.direct = newTransport()
		s.client = &http.Client{Transport: s.direct}
	}
	s.metrics = newMetrics(s.registry)
	return s
}

// newTransport returns the transport of a Sender's own client: plain-HTTP deliveries are written
// and answered on the delivering goroutine over pooled keep-alive connections (h1transport: a
// fifth to a third less client CPU per request than net/http's Transport); https, proxied ones and
// large bodies go to a net/http Transport. Both keep up to 1,000 idle connections per host: the default transport keeps only 2,
// so a busy egress would open and close a connection for most requests.
func newTransport() *h1transport.Transport {
	std := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no global cap; the per-host cap bounds it
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &h1transport.Transport{
		Fallback:            std,
		Proxy:               std.Proxy,
		DialContext:         std.DialContext,
		MaxIdleConnsPerHost: maxIdleConnsPerHost,
		IdleConnTimeout:     idleConnTimeout,
	}
}

const (
	maxIdleConnsPerHost = 1000
	idleConnTimeout     = 90 * time.Second
)

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
