package ingress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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
	srv := httptest.NewUnstartedServer(i)
	srv.Config.ConnState = newConnLimiter(3).track
	srv.Start()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
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
	srv2 := httptest.NewUnstartedServer(i)
	srv2.Config.ConnState = busy.track
	srv2.Start()
	t.Cleanup(srv2.Close)
	addr2 := strings.TrimPrefix(srv2.URL, "http://")
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
