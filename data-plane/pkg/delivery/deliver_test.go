package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
)

// recorded is one request a test server received.
type recorded struct {
	Header http.Header
	Body   []byte
	// Host and URI are the request's Host header and request-target.
	Host, URI string
}

// server is an httptest subscriber answering with respond(n) for its n-th request (0-based).
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newServer(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, recorded{Header: r.Header.Clone(), Body: body, Host: r.Host, URI: r.RequestURI})
		s.mu.Unlock()
		respond(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func (s *server) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newTestSender(t testing.TB, opts ...Option) (*Sender, *sleeps) {
	sl := &sleeps{}
	opts = append([]Option{withSleep(sl.sleep), WithRegistry(prometheus.NewRegistry())}, opts...)
	return NewSender(zaptest.NewLogger(t), opts...), sl
}

func newEvent() *event.Event {
	e := event.New()
	e.SetID("id-1")
	e.SetType("dev.knkafka.test")
	e.SetSource("/test")
	e.SetExtension("partitionkey", "k1")
	if err := e.SetData("application/json", map[string]string{"hello": "world"}); err != nil {
		panic(err)
	}
	return &e
}

// pick returns the named headers of h, for comparing a subset.
func pick(h http.Header, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = h.Get(n)
	}
	return m
}

// resultView is the comparable part of a Result.
type resultView struct {
	Outcome    Outcome
	StatusCode int
	Attempts   int
	HasErr     bool
	HasReply   bool
}

func view(r Result) resultView {
	return resultView{r.Outcome, r.StatusCode, r.Attempts, r.Err != nil, r.Reply != nil}
}

func ms(n int) contract.Duration { return contract.Duration(time.Duration(n) * time.Millisecond) }

func TestDeliverSuccessSendsBinaryMode(t *testing.T) {
	sub := newServer(t, status(http.StatusAccepted))
	s, sl := newTestSender(t)

	h := http.Header{}
	h.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.Set("tracestate", "k=v")
	res := s.Deliver(context.Background(), newEvent(), Target{
		URL: sub.URL, Namespace: "ns1", Egress: "ns1/t1", Header: h,
		Delivery: contract.Delivery{Retry: 3, BackoffDelay: ms(10)},
	})

	if diff := cmp.Diff(resultView{Outcome: Delivered, StatusCode: 202, Attempts: 1}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	reqs := sub.requests()
	if len(reqs) != 1 {
		t.Fatalf("subscriber got %d requests, want 1", len(reqs))
	}
	want := map[string]string{
		"Ce-Id": "id-1", "Ce-Type": "dev.knkafka.test", "Ce-Source": "/test", "Ce-Specversion": "1.0",
		"Ce-Partitionkey": "k1", "Content-Type": "application/json",
		"Prefer": "reply", "Kn-Namespace": "ns1",
		"Traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "Tracestate": "k=v",
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	if diff := cmp.Diff(want, pick(reqs[0].Header, names...)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if got, want := string(reqs[0].Body), `{"hello":"world"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if got := sl.got(); len(got) != 0 {
		t.Errorf("slept %v, want no sleep", got)
	}
}

func TestDeliverRetriesThenDeadLetters(t *testing.T) {
	codes := []int{404, 408, 409, 429, 500, 501, 502, 503, 504}
	for _, code := range codes {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			body := fmt.Sprintf("subscriber says %d", code)
			sub := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				_, _ = io.WriteString(w, body)
			})
			dls := newServer(t, status(http.StatusAccepted))
			s, sl := newTestSender(t)

			res := s.Deliver(context.Background(), newEvent(), Target{
				URL: sub.URL, DeadLetter: dls.URL, Namespace: "ns1", Egress: "e",
				Delivery: contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: ms(10)},
			})

			if diff := cmp.Diff(resultView{Outcome: DeadLettered, StatusCode: code, Attempts: 4, HasErr: true}, view(res)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got := len(sub.requests()); got != 4 {
				t.Errorf("subscriber got %d requests, want 4 (1 + 3 retries)", got)
			}
			if diff := cmp.Diff([]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}, sl.got()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			dl := dls.requests()
			if len(dl) != 1 {
				t.Fatalf("dead letter sink got %d requests, want 1", len(dl))
			}
			got := pick(dl[0].Header, "Ce-Id", "Ce-Knativeerrordest", "Ce-Knativeerrorcode", "Kn-Namespace", "Prefer")
			want := map[string]string{
				"Ce-Id": "id-1", "Ce-Knativeerrordest": sub.URL, "Ce-Knativeerrorcode": fmt.Sprint(code),
				"Kn-Namespace": "ns1", "Prefer": "",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("dead letter headers (-want +got):\n%s", diff)
			}
			data, err := base64.StdEncoding.DecodeString(dl[0].Header.Get("Ce-Knativeerrordata"))
			if err != nil {
				t.Fatalf("decoding knativeerrordata: %v", err)
			}
			if string(data) != body {
				t.Errorf("knativeerrordata = %q, want %q", data, body)
			}
			if got, want := string(dl[0].Body), `{"hello":"world"}`; got != want {
				t.Errorf("dead letter body = %s, want the original %s", got, want)
			}
		})
	}
}

func TestDeliverNetworkErrorRetriesThenDeadLetters(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused from now on
	dls := newServer(t, status(http.StatusOK))
	s, _ := newTestSender(t)

	res := s.Deliver(context.Background(), newEvent(), Target{
		URL: gone.URL, DeadLetter: dls.URL, Delivery: contract.Delivery{Retry: 2},
	})

	if diff := cmp.Diff(resultView{Outcome: DeadLettered, StatusCode: 0, Attempts: 3, HasErr: true}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	dl := dls.requests()
	if len(dl) != 1 {
		t.Fatalf("dead letter sink got %d requests, want 1", len(dl))
	}
	want := map[string]string{"Ce-Knativeerrordest": gone.URL, "Ce-Knativeerrorcode": "", "Ce-Knativeerrordata": ""}
	if diff := cmp.Diff(want, pick(dl[0].Header, "Ce-Knativeerrordest", "Ce-Knativeerrorcode", "Ce-Knativeerrordata")); diff != "" {
		t.Errorf("dead letter headers (-want +got):\n%s", diff)
	}
}

func TestDeliverNonRetryableIsNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 413, 300} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			sub := newServer(t, status(code))
			s, sl := newTestSender(t)

			res := s.Deliver(context.Background(), newEvent(), Target{
				URL: sub.URL, Delivery: contract.Delivery{Retry: 5, BackoffDelay: ms(10)},
			})

			if diff := cmp.Diff(resultView{Outcome: Failed, StatusCode: code, Attempts: 1, HasErr: true}, view(res)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got := len(sub.requests()); got != 1 {
				t.Errorf("subscriber got %d requests, want 1", got)
			}
			if got := sl.got(); len(got) != 0 {
				t.Errorf("slept %v, want no sleep", got)
			}
		})
	}
}

func TestDeliverInvalidURLIsNotRetried(t *testing.T) {
	s, _ := newTestSender(t)
	res := s.Deliver(context.Background(), newEvent(), Target{URL: "http://bad host/", Delivery: contract.Delivery{Retry: 5}})
	if diff := cmp.Diff(resultView{Outcome: Failed, Attempts: 1, HasErr: true}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestDeliverHonoursRetryAfterUpToMax(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		code       int
		retryAfter string
		delivery   contract.Delivery
		want       []time.Duration
	}{{
		name: "seconds capped by retryAfterMax", code: 429, retryAfter: "120",
		delivery: contract.Delivery{Retry: 2, BackoffDelay: ms(100), RetryAfterMax: contract.Duration(5 * time.Second)},
		want:     []time.Duration{5 * time.Second, 5 * time.Second},
	}, {
		name: "seconds below the cap", code: 503, retryAfter: "3",
		delivery: contract.Delivery{Retry: 2, BackoffDelay: ms(100), RetryAfterMax: contract.Duration(5 * time.Second)},
		want:     []time.Duration{3 * time.Second, 3 * time.Second},
	}, {
		name: "HTTP date", code: 429, retryAfter: now.Add(4 * time.Second).Format(http.TimeFormat),
		delivery: contract.Delivery{Retry: 1, BackoffDelay: ms(100), RetryAfterMax: contract.Duration(time.Minute)},
		want:     []time.Duration{4 * time.Second},
	}, {
		name: "backoff longer than Retry-After wins", code: 429, retryAfter: "1",
		delivery: contract.Delivery{Retry: 2, BackoffDelay: contract.Duration(2 * time.Second), RetryAfterMax: contract.Duration(time.Minute)},
		want:     []time.Duration{2 * time.Second, 4 * time.Second},
	}, {
		name: "ignored without retryAfterMax", code: 429, retryAfter: "120",
		delivery: contract.Delivery{Retry: 2, BackoffDelay: ms(100)},
		want:     []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
	}, {
		name: "ignored on 500", code: 500, retryAfter: "120",
		delivery: contract.Delivery{Retry: 1, BackoffDelay: ms(100), RetryAfterMax: contract.Duration(time.Minute)},
		want:     []time.Duration{100 * time.Millisecond},
	}, {
		name: "garbage ignored", code: 503, retryAfter: "soon",
		delivery: contract.Delivery{Retry: 1, BackoffDelay: ms(100), RetryAfterMax: contract.Duration(time.Minute)},
		want:     []time.Duration{100 * time.Millisecond},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(tt.code)
			})
			s, sl := newTestSender(t, withNow(func() time.Time { return now }))

			res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL, Delivery: tt.delivery})

			wantAttempts := int(tt.delivery.Retry) + 1
			if diff := cmp.Diff(resultView{Outcome: Failed, StatusCode: tt.code, Attempts: wantAttempts, HasErr: true}, view(res)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got := len(sub.requests()); got != wantAttempts {
				t.Errorf("subscriber got %d requests, want %d", got, wantAttempts)
			}
			if diff := cmp.Diff(tt.want, sl.got()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeliverPerAttemptTimeoutRetries(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sub := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			select { // hang until the sender gives up on this attempt
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s, _ := newTestSender(t)

	res := s.Deliver(context.Background(), newEvent(), Target{
		URL: sub.URL, Delivery: contract.Delivery{Retry: 1, Timeout: ms(50)},
	})

	if diff := cmp.Diff(resultView{Outcome: Delivered, StatusCode: 200, Attempts: 2}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestDeliverDefaultTimeoutAppliesWithoutDeliveryTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sub := newServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	s, _ := newTestSender(t, DefaultTimeout(20*time.Millisecond))

	res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL, Delivery: contract.Delivery{Retry: 1}})

	if diff := cmp.Diff(resultView{Outcome: Failed, StatusCode: 0, Attempts: 2, HasErr: true}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline exceeded", res.Err)
	}
}

func TestDeliverCapsHugeErrorBody(t *testing.T) {
	huge := bytes.Repeat([]byte{0xff, 0x00, 'x', 0x80}, (10<<20)/4) // 10 MiB, not UTF-8
	for _, tt := range []struct {
		name string
		opts []Option
		want int
	}{
		{name: "default 1 KiB", want: 1 << 10},
		{name: "configured 16 bytes", opts: []Option{MaxErrorDataBytes(16)}, want: 16},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write(huge)
			})
			dls := newServer(t, status(http.StatusAccepted))
			s, _ := newTestSender(t, tt.opts...)

			res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL, DeadLetter: dls.URL})

			if res.Outcome != DeadLettered {
				t.Fatalf("outcome = %v (%v), want dead_lettered", res.Outcome, res.Err)
			}
			dl := dls.requests()
			if len(dl) != 1 {
				t.Fatalf("dead letter sink got %d requests, want 1", len(dl))
			}
			data, err := base64.StdEncoding.DecodeString(dl[0].Header.Get("Ce-Knativeerrordata"))
			if err != nil {
				t.Fatalf("decoding knativeerrordata: %v", err)
			}
			if !bytes.Equal(data, huge[:tt.want]) {
				t.Errorf("knativeerrordata has %d bytes, want the first %d of the body", len(data), tt.want)
			}
		})
	}
}

func TestDeliverHugeReplyIsDeliveredWithoutReply(t *testing.T) {
	sub := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Ce-Id", "r1")
		w.Header().Set("Ce-Type", "reply")
		w.Header().Set("Ce-Source", "/sub")
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 10<<20))
	})
	s, _ := newTestSender(t)

	res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL})

	if diff := cmp.Diff(resultView{Outcome: Delivered, StatusCode: 200, Attempts: 1}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestDeliverDeadLetterSinkDownIsTriedUntilItTakesTheEvent(t *testing.T) {
	sub := newServer(t, status(http.StatusInternalServerError))
	// Down for seven requests — more than two series of 1 + 2 retries — then back.
	dls := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 7 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	s, sl := newTestSender(t)

	res := s.Deliver(context.Background(), newEvent(), Target{
		URL: sub.URL, DeadLetter: dls.URL,
		Delivery: contract.Delivery{Retry: 2, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(time.Second)},
	})

	if diff := cmp.Diff(resultView{Outcome: DeadLettered, StatusCode: 500, Attempts: 3, HasErr: true}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if got := len(dls.requests()); got != 8 {
		t.Errorf("dead letter sink got %d requests, want 8 (three series, the last one taken)", got)
	}
	// Subscriber retries 1s, 2s; each sink series retries 1s, 2s; between sink series the next
	// linear steps, 3s and 4s.
	want := []time.Duration{time.Second, 2 * time.Second, time.Second, 2 * time.Second, 3 * time.Second,
		time.Second, 2 * time.Second, 4 * time.Second, time.Second}
	if diff := cmp.Diff(want, sl.got()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestDeliverDeadLetterSinkRefusingForGoodFails(t *testing.T) {
	sub := newServer(t, status(http.StatusInternalServerError))
	dls := newServer(t, status(http.StatusBadRequest))
	s, _ := newTestSender(t)

	res := s.Deliver(context.Background(), newEvent(), Target{
		URL: sub.URL, DeadLetter: dls.URL, Delivery: contract.Delivery{Retry: 2},
	})

	if diff := cmp.Diff(resultView{Outcome: Failed, StatusCode: 500, Attempts: 3, HasErr: true}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if got := len(dls.requests()); got != 1 {
		t.Errorf("dead letter sink got %d requests, want 1 (400 is not retried)", got)
	}
	if msg := res.Err.Error(); !strings.Contains(msg, "dead letter") || !strings.Contains(msg, "400") || !strings.Contains(msg, "500") {
		t.Errorf("err = %q, want both failures named", msg)
	}
}

// eventView is the comparable part of an event.
type eventView struct {
	ID, Type, Source, DataContentType, Data string
	Extensions                              map[string]any
}

func viewEvent(e *event.Event) *eventView {
	if e == nil {
		return nil
	}
	return &eventView{e.ID(), e.Type(), e.Source(), e.DataContentType(), string(e.Data()), e.Extensions()}
}

func TestDeliverExtractsReply(t *testing.T) {
	binary := func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Ce-Id", "r1")
		w.Header().Set("Ce-Type", "reply.type")
		w.Header().Set("Ce-Source", "/sub")
		w.Header().Set("Ce-Specversion", "1.0")
		w.Header().Set("Ce-Myext", "v")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"a":1}`)
	}
	structured := func(body string) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/cloudevents+json")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, body)
		}
	}
	binaryNoData := func(_ int, w http.ResponseWriter, _ *http.Request) {
		// No body and no Content-Type: only the Ce- headers say there is an event.
		w.Header().Set("Ce-Id", "r3")
		w.Header().Set("Ce-Type", "reply.type")
		w.Header().Set("Ce-Source", "/sub")
		w.Header().Set("Ce-Specversion", "1.0")
		w.WriteHeader(http.StatusOK)
	}
	text := func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "thanks")
	}
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		want    *eventView
	}{{
		name: "binary", respond: binary,
		want: &eventView{"r1", "reply.type", "/sub", "application/json", `{"a":1}`, map[string]any{"myext": "v"}},
	}, {
		name:    "structured",
		respond: structured(`{"specversion":"1.0","id":"r2","type":"reply.type","source":"/sub","datacontenttype":"application/json","data":{"a":1}}`),
		want:    &eventView{"r2", "reply.type", "/sub", "application/json", `{"a":1}`, nil},
	}, {
		name: "invalid structured body", respond: structured(`{"specversion":"1.0","id":`),
	}, {
		name: "structured event missing id", respond: structured(`{"specversion":"1.0","type":"t","source":"/s"}`),
	}, {
		name: "binary without data", respond: binaryNoData,
		want: &eventView{"r3", "reply.type", "/sub", "", "", nil},
	}, {
		name: "plain text", respond: text,
	}, {
		name: "empty", respond: status(http.StatusAccepted),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newServer(t, tt.respond)
			s, _ := newTestSender(t)

			res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL})

			if res.Outcome != Delivered || res.Err != nil {
				t.Fatalf("outcome = %v, err = %v; want delivered", res.Outcome, res.Err)
			}
			if diff := cmp.Diff(tt.want, viewEvent(res.Reply)); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeliverContextCancelled(t *testing.T) {
	t.Run("during an attempt", func(t *testing.T) {
		arrived := make(chan struct{})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		sub := newServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
			close(arrived)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		dls := newServer(t, status(http.StatusOK))
		s, _ := newTestSender(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()

		res := s.Deliver(ctx, newEvent(), Target{URL: sub.URL, DeadLetter: dls.URL, Delivery: contract.Delivery{Retry: 5}})

		if diff := cmp.Diff(resultView{Outcome: Failed, Attempts: 1, HasErr: true}, view(res)); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if res.Err != context.Canceled { // exactly ctx.Err(), not merely wrapping it
			t.Errorf("err = %v, want context.Canceled", res.Err)
		}
		if got := len(dls.requests()); got != 0 {
			t.Errorf("dead letter sink got %d requests, want none after cancel", got)
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		sub := newServer(t, status(http.StatusInternalServerError))
		ctx, cancel := context.WithCancel(context.Background())
		// The real sleeper, cancelled while it waits out an hour's backoff: it must return at
		// cancel, not at the hour.
		s, _ := newTestSender(t, withSleep(func(ctx context.Context, d time.Duration) error {
			go cancel()
			return sleepContext(ctx, d)
		}))

		res := s.Deliver(ctx, newEvent(), Target{URL: sub.URL, Delivery: contract.Delivery{Retry: 5, BackoffDelay: contract.Duration(time.Hour)}})

		if diff := cmp.Diff(resultView{Outcome: Failed, StatusCode: 500, Attempts: 1, HasErr: true}, view(res)); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if res.Err != context.Canceled { // exactly ctx.Err(), not merely wrapping it
			t.Errorf("err = %v, want context.Canceled", res.Err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		sub := newServer(t, status(http.StatusOK))
		s, _ := newTestSender(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		res := s.Deliver(ctx, newEvent(), Target{URL: sub.URL})

		if res.Outcome != Failed || res.Err != context.Canceled { // exactly ctx.Err()
			t.Errorf("outcome = %v, err = %v; want failed with context.Canceled", res.Outcome, res.Err)
		}
	})
}

func TestSendRetriesWithoutDeadLetterOrPrefer(t *testing.T) {
	sub := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Ce-Id", "ignored")
		w.Header().Set("Ce-Type", "t")
		w.Header().Set("Ce-Source", "/s")
		w.Header().Set("Ce-Specversion", "1.0")
		w.WriteHeader(http.StatusOK)
	})
	s, sl := newTestSender(t)
	h := http.Header{"Kn-Namespace": {"ns1"}}

	res := s.Send(context.Background(), newEvent(), sub.URL, contract.Delivery{Retry: 3, BackoffDelay: ms(10)}, h)

	if diff := cmp.Diff(resultView{Outcome: Delivered, StatusCode: 200, Attempts: 3}, view(res)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, sl.got()); diff != "" {
		t.Errorf("sleeps (exponential by default) (-want +got):\n%s", diff)
	}
	reqs := sub.requests()
	if diff := cmp.Diff(map[string]string{"Prefer": "", "Kn-Namespace": "ns1", "Ce-Id": "id-1"}, pick(reqs[0].Header, "Prefer", "Kn-Namespace", "Ce-Id")); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestDeliverCountsMetrics(t *testing.T) {
	sub := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	reg := prometheus.NewRegistry()
	s, _ := newTestSender(t, WithRegistry(reg))
	// A second Sender on the same registry shares the collectors instead of failing.
	_ = NewSender(nil, WithRegistry(reg))

	s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL, Egress: "ns/t", Delivery: contract.Delivery{Retry: 1}})
	// The second delivery updates the series the first one created.
	s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL, Egress: "ns/t", Delivery: contract.Delivery{Retry: 1}})

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"knkafka_dispatch_requests_total,code=500,egress=ns/t,role=subscriber": 1,
		"knkafka_dispatch_requests_total,code=202,egress=ns/t,role=subscriber": 2,
		"knkafka_dispatch_latency_seconds,egress=ns/t,role=subscriber":         3,
		"knkafka_dispatch_events_total,egress=ns/t,outcome=delivered":          2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestDeliverContextCancelledDuringDeadLetter(t *testing.T) {
	sub := newServer(t, status(http.StatusInternalServerError))
	ctx, cancel := context.WithCancel(context.Background())
	dls := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		cancel()
		w.WriteHeader(http.StatusInternalServerError)
	})
	s, _ := newTestSender(t)

	res := s.Deliver(ctx, newEvent(), Target{URL: sub.URL, DeadLetter: dls.URL, Delivery: contract.Delivery{Retry: 2}})

	if res.Outcome != Failed || res.Err != context.Canceled { // exactly ctx.Err()
		t.Errorf("outcome = %v, err = %v; want failed with context.Canceled", res.Outcome, res.Err)
	}
	if got := len(dls.requests()); got != 1 {
		t.Errorf("dead letter sink got %d requests, want 1 (no retries after cancel)", got)
	}
}

func TestSendContextCancelled(t *testing.T) {
	sub := newServer(t, status(http.StatusOK))
	s, _ := newTestSender(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	res := s.Send(ctx, newEvent(), sub.URL, contract.Delivery{Retry: 3}, nil)

	if res.Outcome != Failed || res.Err != context.Canceled { // exactly ctx.Err()
		t.Errorf("outcome = %v, err = %v; want failed with context.Canceled", res.Outcome, res.Err)
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func TestWithHTTPClientIsUsed(t *testing.T) {
	sub := newServer(t, status(http.StatusOK))
	ct := &countingTransport{next: sub.Client().Transport}
	s, _ := newTestSender(t, WithHTTPClient(&http.Client{Transport: ct}))

	if res := s.Deliver(context.Background(), newEvent(), Target{URL: sub.URL}); res.Outcome != Delivered {
		t.Fatalf("outcome = %v: %v", res.Outcome, res.Err)
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if ct.n != 1 {
		t.Errorf("custom transport carried %d requests, want 1", ct.n)
	}
}
