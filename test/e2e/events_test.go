package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"knative.dev/pkg/apis"
)

// delivered is an event a sink received, when, and at which path.
type delivered struct {
	event cloudevents.Event
	at    time.Time
	path  string
}

// sink is a subscriber, reply target or dead-letter sink: a local HTTP server recording the
// CloudEvents POSTed to it and answering with respond (202 when nil).
type sink struct {
	name    string
	url     *apis.URL
	respond func(w http.ResponseWriter, e *cloudevents.Event)
	// delay is how long each delivery is held, to expose concurrent deliveries.
	delay time.Duration

	inFlight, maxInFlight atomic.Int32
	// firstReleased is set by holdingFirstUntilTheRest: whether the rest arrived in time.
	firstReleased atomic.Pointer[bool]

	mu       sync.Mutex
	received []delivered
	invalid  []string
	// keyInFlight counts the deliveries in flight per partitionkey; maxKeyInFlight is the most
	// seen at once for any one key.
	keyInFlight    map[string]int
	maxKeyInFlight int
}

// newSink starts a sink; it is closed when the test ends.
func newSink(t *testing.T, name string, opts ...func(*sink)) *sink {
	t.Helper()
	s := &sink{name: name}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = apis.HTTP(ln.Addr().String())
	return s
}

// failing answers every delivery with 500 and body "boom".
func failing(s *sink) {
	s.respond = func(w http.ResponseWriter, _ *cloudevents.Event) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "boom")
	}
}

// replying answers every delivery with a binary-mode CloudEvent of type typ, id "reply-<id>".
func replying(typ string) func(*sink) {
	return func(s *sink) {
		s.respond = func(w http.ResponseWriter, e *cloudevents.Event) {
			h := w.Header()
			h.Set("Ce-Specversion", "1.0")
			h.Set("Ce-Id", "reply-"+e.ID())
			h.Set("Ce-Type", typ)
			h.Set("Ce-Source", "/e2e/replier")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = fmt.Fprintf(w, `{"inReplyTo":%q}`, e.ID())
		}
	}
}

// holding holds each delivery for d.
func holding(d time.Duration) func(*sink) { return func(s *sink) { s.delay = d } }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		s.mu.Lock()
		s.invalid = append(s.invalid, err.Error())
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if key, _ := e.Extensions()["partitionkey"].(string); key != "" {
		s.mu.Lock()
		if s.keyInFlight == nil {
			s.keyInFlight = map[string]int{}
		}
		s.keyInFlight[key]++
		s.maxKeyInFlight = max(s.maxKeyInFlight, s.keyInFlight[key])
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.keyInFlight[key]--
			s.mu.Unlock()
		}()
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	s.mu.Lock()
	s.received = append(s.received, delivered{event: *e, at: time.Now(), path: r.URL.Path})
	s.mu.Unlock()
	if s.respond != nil {
		s.respond(w, e)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// events returns what the sink received so far, in arrival order.
func (s *sink) events() []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// ids returns the ids the sink received, in arrival order.
func (s *sink) ids() []string {
	var ids []string
	for _, d := range s.events() {
		ids = append(ids, d.event.ID())
	}
	return ids
}

// first is when the first event arrived; false before any did.
func (s *sink) first() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == 0 {
		return time.Time{}, false
	}
	return s.received[0].at, true
}

// waitFor waits until the sink received every id in want.
func (s *sink) waitFor(t *testing.T, within time.Duration, want []string) {
	t.Helper()
	eventually(t, within, fmt.Sprintf("sink %s receiving %d events", s.name, len(want)), func() (bool, string) {
		got := s.ids()
		var missing []string
		for _, id := range want {
			if !slices.Contains(got, id) {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v; received %v", missing, got)
	})
}

// checkExactly fails t unless the sink received each id of want exactly once and nothing else
// (the order aside), and only valid CloudEvents.
func (s *sink) checkExactly(t *testing.T, want []string) {
	t.Helper()
	got := map[string]int{}
	for _, id := range s.ids() {
		got[id]++
	}
	var missing, duplicated, unexpected []string
	for _, id := range want {
		switch got[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			duplicated = append(duplicated, fmt.Sprintf("%s×%d", id, got[id]))
		}
	}
	for id, n := range got {
		if !slices.Contains(want, id) {
			unexpected = append(unexpected, fmt.Sprintf("%s×%d", id, n))
		}
	}
	if len(missing)+len(duplicated)+len(unexpected) > 0 {
		slices.Sort(unexpected)
		t.Errorf("sink %s: want exactly %d events (%s … %s), each once; missing %v, duplicated %v, %d unexpected: %v",
			s.name, len(want), want[0], want[len(want)-1], missing, duplicated, len(unexpected), firstN(unexpected, 15))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.invalid) > 0 {
		t.Errorf("sink %s received %d requests that are not CloudEvents: %v", s.name, len(s.invalid), firstN(s.invalid, 5))
	}
}

// firstN is up to n elements of s, with a note of how many more there are.
func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("(and %d more)", len(s)-n))
}

// event builds a CloudEvent for the tests.
func event(id, typ, source string, extensions map[string]string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource(source)
	for k, v := range extensions {
		e.SetExtension(k, v)
	}
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"id": id})
	return e
}

// send POSTs e to the ingress in binary mode — at path, with the Host header host when not
// empty — and returns the status code.
func (s *suite) send(ctx context.Context, host, path string, e cloudevents.Event) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.ingress+path, nil)
	if err != nil {
		return 0, err
	}
	if host != "" {
		req.Host = host
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		return 0, fmt.Errorf("encoding event %s: %w", e.ID(), err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return resp.StatusCode, nil
}

// mustSend sends each event and fails t unless the ingress accepted it (202).
func (s *suite) mustSend(t *testing.T, host, path string, events ...cloudevents.Event) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	for _, e := range events {
		code, err := s.send(ctx, host, path, e)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("sending %s to the ingress (host %q, path %s): status %d, %v", e.ID(), host, path, code, err)
		}
	}
}

// ids returns prefix-0 .. prefix-(n-1).
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// hostOf is the host of a URL string, for the Host header.
func hostOf(u *apis.URL) string { return strings.TrimSuffix(u.Host, ":80") }

// mustURL parses a URL the test spelled out.
func mustURL(t *testing.T, s string) *apis.URL {
	t.Helper()
	u, err := apis.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
