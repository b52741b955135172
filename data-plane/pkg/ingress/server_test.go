package ingress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// startServer serves i as the data plane does (Ingress.Server), with limit as its connection
// bound, and returns its URL.
func startServer(t *testing.T, i *Ingress, limit *connLimiter) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := i.server(limit)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// request sends a POST with an empty body on c (keep-alive) and returns the status code.
func request(t *testing.T, c net.Conn, r *bufio.Reader) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprint(c, "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// closedByServer reports whether the server closed c (a read sees EOF) within a second.
func closedByServer(c net.Conn, r *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := r.ReadByte()
	return err == io.EOF
}

// Past the connection bound, a new client evicts the longest-idle keep-alive connection instead
// of waiting behind it; with none idle, the new connection is the one refused.
func TestConnLimiterEvictsTheOldestIdleConnection(t *testing.T) {
	i := newIngress(t, testContract(fakeKafka(t)))
	addr := strings.TrimPrefix(startServer(t, i, newConnLimiter(3)), "http://")
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	var conns []net.Conn
	var readers []*bufio.Reader
	for range 3 {
		c, r := dial()
		if code := request(t, c, r); code != http.StatusNotFound {
			t.Fatalf("keep-alive request got %d, want 404", code)
		}
		conns, readers = append(conns, c), append(readers, r)
		time.Sleep(20 * time.Millisecond) // a distinct idle order
	}
	c4, r4 := dial()
	if code := request(t, c4, r4); code != http.StatusNotFound {
		t.Fatalf("the fourth client got %d, want to be served (404)", code)
	}
	if !closedByServer(conns[0], readers[0]) {
		t.Error("the longest-idle connection is still open; it should have been evicted")
	}
	if closedByServer(conns[2], readers[2]) {
		t.Error("a more recent idle connection was closed; only the oldest should go")
	}

	// Three connections busy in a request (headers sent, body pending): none idle to evict.
	busy := newConnLimiter(3)
	addr2 := strings.TrimPrefix(startServer(t, i, busy), "http://")
	for range 3 {
		slowClient(t, addr2, 100, "ab")
	}
	eventually(t, "three requests active", func() bool {
		busy.mu.Lock()
		defer busy.mu.Unlock()
		return len(busy.conns) == 3
	})
	c, err := net.DialTimeout("tcp", addr2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !closedByServer(c, bufio.NewReader(c)) {
		t.Error("a connection beyond the bound with none idle was kept open")
	}
}

// Every request on a keep-alive connection takes it from idle to active and back: the limiter
// must hold one entry per connection however many requests pass, or a busy ingress grows without
// bound. The idle order still follows the latest request of each connection.
func TestConnLimiterHoldsOneEntryPerConnectionAcrossRequests(t *testing.T) {
	l := newConnLimiter(2)
	a, b := fakeConn(t), fakeConn(t)
	l.track(a, http.StateNew)
	l.track(b, http.StateNew)
	const requests = 100_000
	before := heapInUse()
	for range requests {
		l.track(a, http.StateActive)
		l.track(a, http.StateIdle)
	}
	// Anything kept per request (16 bytes of a net.Conn alone) would be 1.6 MB by now.
	if grown := int64(heapInUse()) - int64(before); grown > 256<<10 {
		t.Errorf("the heap grew %d bytes over %d requests on one connection; the limiter keeps something per request", grown, requests)
	}
	l.track(b, http.StateActive)
	l.track(b, http.StateIdle) // b went idle after a's last request
	l.mu.Lock()
	held := len(l.conns)
	l.mu.Unlock()
	if held != 2 {
		t.Fatalf("the limiter holds %d connections, want 2", held)
	}
	c := fakeConn(t)
	l.track(c, http.StateNew)
	l.mu.Lock()
	_, aOpen := l.conns[a]
	l.mu.Unlock()
	if !aOpen {
		t.Fatal("the limiter forgot connection a before it closed")
	}
	// a is the longest idle: its eviction closes it.
	if _, err := a.Write([]byte("x")); err == nil {
		t.Error("the longest-idle connection (a) was not evicted by a third one over the bound of 2")
	}
	if _, err := b.Write([]byte("x")); err != nil {
		t.Errorf("connection b, idle more recently than a, was evicted: %v", err)
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fakeConn is one end of an in-memory connection whose other end swallows what is written.
func fakeConn(t *testing.T) net.Conn {
	t.Helper()
	c, peer := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	return c
}
