// Package dataplane tests the knkafka-dataplane binary as users run it: a process following a
// contract file against the real Kafka broker, killed and restarted, shared by replicas.
package dataplane

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/proctest"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "./data-plane/cmd/knkafka-dataplane", &binary) }

// start runs the binary with role against the contract file; it is stopped when the test ends.
func start(t *testing.T, role, contractFile string) *proctest.DataPlane {
	t.Helper()
	return proctest.StartDataPlane(t, binary, role, contractFile, proctest.DataPlaneOpts{})
}

func writeContract(t *testing.T, path string, c *contract.Contract) {
	proctest.WriteContract(t, path, c)
}

// subscriber counts deliveries by CloudEvent id.
type subscriber struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	addr  string
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Ce-Id")
		s.mu.Lock()
		s.seen[id]++
		s.total++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.addr = "http://" + ln.Addr().String()
	return s
}

func (s *subscriber) counts() (unique, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen), s.total
}

// waitUnique waits until n distinct ids arrived; it reports an error and returns false when the
// deadline passes first.
func (s *subscriber) waitUnique(t *testing.T, n int, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if u, _ := s.counts(); u >= n {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	u, total := s.counts()
	t.Errorf("subscriber saw %d distinct events (%d deliveries) within %s, want %d; missing: %v", u, total, within, n, s.missing(n))
	return false
}

// missing lists up to 20 of the ids evt-0 .. evt-(n-1) never delivered.
func (s *subscriber) missing(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i := 0; i < n && len(out) < 20; i++ {
		if s.seen[eventID(i)] == 0 {
			out = append(out, eventID(i))
		}
	}
	return out
}

func eventID(i int) string { return "evt-" + strconv.Itoa(i) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
