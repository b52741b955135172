package ingress

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// slowClient opens a connection to srv, sends the headers of a binary-mode event announcing a
// body of announced bytes, then only the first bytes of it, and keeps the connection open.
func slowClient(t *testing.T, addr string, announced int, first string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	fmt.Fprintf(c, "POST /ns1/b1 HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\nCe-Id: slow\r\nCe-Source: /s\r\n"+
		"Ce-Type: t\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s", announced, first)
	return c
}

// readStatus reads the status code of the response on c, within 10 s.
func readStatus(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Clients that announce large bodies and send two bytes hold only what they sent: the byte
// budget is spent on arrived bytes, so well-behaved requests keep being accepted beside 64 of
// them, and a body that never completes is answered 408 once BodyTimeout passes.
func TestSlowClientsCostOnlyTheBytesTheySent(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers), MaxInFlightBytes(4<<20), BodyTimeout(2*time.Second))
	url := startServer(t, i, newConnLimiter(DefaultMaxConns))
	addr := strings.TrimPrefix(url, "http://")

	var slow []net.Conn
	for range 64 {
		slow = append(slow, slowClient(t, addr, 8<<20, "ab"))
	}
	// Each slow request holds one first chunk (32 KiB) of the 4 MiB budget: 2 MiB in all, not
	// the 512 MiB they announced.
	eventually(t, "the slow requests reach the handler", func() bool { return i.bodies.used.Load() >= 64*firstChunk })
	if used := i.bodies.used.Load(); used > 64*firstChunk {
		t.Errorf("64 slow requests hold %d bytes of the budget, want at most %d", used, 64*firstChunk)
	}
	resp, err := http.DefaultClient.Do(binaryRequestTo(t, url+"/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "ok")))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("a well-behaved request beside the slow ones got %d, want 202", resp.StatusCode)
	}
	if code := readStatus(t, slow[0]); code != http.StatusRequestTimeout {
		t.Errorf("a body that never completes got %d, want 408", code)
	}
	eventually(t, "the slow requests' bytes are given back", func() bool { return i.bodies.used.Load() == 0 })
}

// A request that would take the byte budget over its bound is answered 503 with Retry-After at
// once, rather than waiting or allocating.
func TestByteBudgetAnswers503AtOnce(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers), MaxInFlightBytes(firstChunk), BodyTimeout(5*time.Second))
	url := startServer(t, i, newConnLimiter(DefaultMaxConns))
	addr := strings.TrimPrefix(url, "http://")
	holder := slowClient(t, addr, 1<<20, "ab")
	eventually(t, "the first request holds the whole budget", func() bool { return i.bodies.used.Load() == firstChunk })

	start := time.Now()
	second := slowClient(t, addr, 1<<20, "ab")
	if code := readStatus(t, second); code != http.StatusServiceUnavailable {
		t.Errorf("a request beyond the byte budget got %d, want 503", code)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the 503 came after %s; it must not wait for the budget", waited)
	}
	_ = holder.Close()
}

// More requests than MaxRequests at once: the extra ones are answered 503 with Retry-After.
func TestRequestBoundAnswers503(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers), MaxRequests(2), BodyTimeout(5*time.Second))
	url := startServer(t, i, newConnLimiter(DefaultMaxConns))
	addr := strings.TrimPrefix(url, "http://")
	slowClient(t, addr, 100, "ab")
	slowClient(t, addr, 100, "ab")
	eventually(t, "two requests in flight", func() bool { return i.requests.used.Load() == 2 })
	resp, err := http.DefaultClient.Do(binaryRequestTo(t, url+"/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "third")))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third request got %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// A client that hangs up while its events are being produced does not cut short the records of
// others: every request that stays gets 202.
func TestClientHangUpDoesNotFailOthers(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers))
	url := startServer(t, i, newConnLimiter(DefaultMaxConns))
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for n := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := binaryRequestTo(t, url+"/ns1/b1", testEvent(t, event.CloudEventsVersionV1, fmt.Sprint(n)))
			if n%2 == 0 {
				// Every other client gives up almost at once.
				client := &http.Client{Timeout: time.Millisecond}
				if resp, err := client.Do(req); err == nil {
					_ = resp.Body.Close()
				}
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("a client that stayed got %d, want 202", c)
		}
	}
}

// binaryRequestTo is binaryRequest for a real client: an absolute URL and no RequestURI.
func binaryRequestTo(t *testing.T, url string, e *event.Event) *http.Request {
	t.Helper()
	req := binaryRequest(t, "/ns1/b1", e)
	out, err := http.NewRequest(http.MethodPost, url, req.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header
	out.ContentLength = req.ContentLength
	return out
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A bug tripped by one resource's state answers 500 for that request alone: the process and the
// other resources' requests go on. (The state here — a producer without a client — cannot arise
// from Apply; it stands in for any such bug.)
func TestPanicForOneResourceIs500ForItAlone(t *testing.T) {
	servers := fakeKafka(t)
	c := testContract(servers)
	c.Resources[1].BootstrapServers = append([]string{"127.0.0.1:1"}, servers...) // its own cluster key
	i := newIngress(t, c)
	// The topic probe reads every producer's client; stop it before planting one without.
	i.stopProbe()
	<-i.probeDone
	orig := i.snap.Load()
	t.Cleanup(func() { i.snap.Store(orig) }) // Close flushes every producer: give it back real ones
	broken := *orig
	broken.producers = maps.Clone(broken.producers)
	route, ok := broken.table.Lookup("", "/ns1/c1")
	if !ok {
		t.Fatal("no route for the channel")
	}
	broken.producers[broken.keys[route.Resource.UID]] = &producer{}
	i.snap.Store(&broken)

	if rec := serve(i, binaryRequest(t, "/ns1/c1", testEvent(t, event.CloudEventsVersionV1, "boom"))); rec.Code != http.StatusInternalServerError {
		t.Errorf("the broken resource answered %d, want 500", rec.Code)
	}
	if rec := serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "fine"))); rec.Code != http.StatusAccepted {
		t.Errorf("another resource answered %d after the panic, want 202", rec.Code)
	}
}

// Headers over the bound are refused by the server before any handler runs.
func TestOversizedHeadersAreRefused(t *testing.T) {
	i := newIngress(t, testContract(fakeKafka(t)))
	url := startServer(t, i, newConnLimiter(DefaultMaxConns))
	req := binaryRequestTo(t, url+"/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "big"))
	req.Header.Set("Ce-Big", strings.Repeat("x", DefaultMaxHeaderBytes+4096))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a request with %d bytes of headers got %d, want 431", DefaultMaxHeaderBytes+4096, resp.StatusCode)
	}
}
