package h1transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepted and closed.
type connCounter struct{ opened, closed atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *connCounter) {
	t.Helper()
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.hook
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cc
}

func newClient(t *testing.T, tr *Transport) *http.Client {
	t.Helper()
	if tr.Fallback == nil {
		tr.Fallback = failingRoundTripper{t}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// failingRoundTripper fails the test when a request reaches it.
type failingRoundTripper struct{ t *testing.T }

func (f failingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("request to %s reached the fallback", r.URL)
	return nil, errors.New("unexpected fallback")
}

// recordingRoundTripper answers 299 to every request and counts them.
type recordingRoundTripper struct{ n atomic.Int64 }

func (f *recordingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	f.n.Add(1)
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: r, Header: http.Header{}}, nil
}

func post(t *testing.T, cl *http.Client, ctx context.Context, u, body string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, b
}

func TestRequestsAndResponsesGoThroughUnchanged(t *testing.T) {
	type seen struct {
		method, path, host, body, ce, ua string
		length                           int64
	}
	got := make(chan seen, 10)
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Host, string(b), r.Header.Get("Ce-Id"), r.Header.Get("User-Agent"), r.ContentLength}
		w.Header().Set("Ce-Id", "reply-"+r.Header.Get("Ce-Id"))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "answer to "+string(b))
	})
	cl := newClient(t, &Transport{})
	for i := range 5 {
		id := fmt.Sprint("e-", i)
		resp, b := post(t, cl, context.Background(), srv.URL+"/ns/broker?x=1", "event "+id, http.Header{"Ce-Id": {id}})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Id") != "reply-"+id || string(b) != "answer to event "+id {
			t.Fatalf("response %d %v %q", resp.StatusCode, resp.Header, b)
		}
		s := <-got
		want := seen{http.MethodPost, "/ns/broker?x=1", strings.TrimPrefix(srv.URL, "http://"), "event " + id, id, "Go-http-client/1.1", int64(len("event " + id))}
		if s != want {
			t.Fatalf("server saw %+v, want %+v", s, want)
		}
	}
	if n := cc.opened.Load(); n != 1 {
		t.Fatalf("5 sequential requests opened %d connections, want 1 kept alive", n)
	}
}

func TestConcurrentRequestsKeepTheirConnections(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	const workers, each = 8, 50
	cl := newClient(t, &Transport{MaxIdleConnsPerHost: workers})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, _ := post(t, cl, context.Background(), srv.URL, "x", nil)
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if n := cc.opened.Load(); n > workers {
		t.Fatalf("%d workers opened %d connections", workers, n)
	}
}

// rawServer accepts connections and hands each to serve, for answers net/http's server would not give.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := &atomic.Int64{}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String(), accepted
}

// readRequest reads one request and its body from br.
func readRequest(t *testing.T, br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

func TestAConnectionThePeerClosedWhileIdleIsNotUsed(t *testing.T) {
	// The server answers without announcing a close, then closes the connection: the next
	// request must go over a new one, not fail on the dead one.
	closed := make(chan struct{}, 10)
	u, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(t, br) {
			_, _ = io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
		}
		_ = c.Close()
		closed <- struct{}{}
	})
	cl := newClient(t, &Transport{})
	for i := range 3 {
		resp, _ := post(t, cl, context.Background(), u, "x", nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		<-closed
		time.Sleep(20 * time.Millisecond) // the FIN reaches the client's socket
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections accepted, want 3", n)
	}
}

func TestConnectionCloseAndUnframedBodiesAreNotReused(t *testing.T) {
	for name, c := range map[string]struct {
		answer string
		// closes: the server closes the connection after answering; otherwise it keeps it
		// open and would answer again, so only the client's own decision keeps it from reuse.
		closes bool
	}{
		"connection close": {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false},
		"HTTP/1.0":         {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		"body to EOF":      {"HTTP/1.1 200 OK\r\n\r\nok", true},
	} {
		t.Run(name, func(t *testing.T) {
			u, accepted := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
				for readRequest(t, br) {
					_, _ = io.WriteString(conn, c.answer)
					if c.closes {
						return
					}
				}
			})
			cl := newClient(t, &Transport{})
			for range 2 {
				if _, b := post(t, cl, context.Background(), u, "x", nil); string(b) != "ok" {
					t.Fatalf("body %q", b)
				}
			}
			if n := accepted.Load(); n != 2 {
				t.Fatalf("%d connections for 2 requests, want 2", n)
			}
		})
	}
}

func TestChunkedAndInformationalResponses(t *testing.T) {
	u, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(t, br) {
			_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+
				"HTTP/1.1 100 Continue\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCe-Id: r\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
		}
	})
	cl := newClient(t, &Transport{})
	for range 3 {
		resp, b := post(t, cl, context.Background(), u, "x", nil)
		if resp.StatusCode != http.StatusOK || string(b) != "abcde" || resp.Header.Get("Ce-Id") != "r" {
			t.Fatalf("got %d %q %v", resp.StatusCode, b, resp.Header)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want the chunked responses' one kept alive", n)
	}
}

func TestResponseHeadersAreBounded(t *testing.T) {
	u, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if !readRequest(t, br) {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Big: " + strings.Repeat("a", 1000) + "\r\n"
		for range 100 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "Content-Length: 0\r\n\r\n")
	})
	cl := newClient(t, &Transport{MaxResponseHeaderBytes: 10 << 10})
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("x"))
	resp, err := cl.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("100 KB of headers were accepted with a 10 KiB limit")
	}
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("error %v, want %v", err, errHeaderTooLarge)
	}
	// Within the limit they pass.
	cl = newClient(t, &Transport{})
	if resp, _ := post(t, cl, context.Background(), u, "x", nil); len(resp.Header["X-Big"]) != 100 {
		t.Fatalf("%d X-Big headers", len(resp.Header["X-Big"]))
	}
}

func TestTheContextBoundsTheExchange(t *testing.T) {
	release := make(chan struct{})
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		if r.URL.Path == "/slowbody" {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	})
	defer close(release)
	cl := newClient(t, &Transport{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/slow", strings.NewReader("x"))
	start := time.Now()
	_, err := cl.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a 100 ms deadline ended the request after %v", d)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/slowbody", strings.NewReader("x"))
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("reading a body after cancel: %v, want context.Canceled", err)
	}
	_ = resp.Body.Close()

	// Neither connection goes back to the pool: a third request opens a third one.
	if _, b := post(t, cl, context.Background(), srv.URL+"/fast", "x", nil); len(b) != 0 {
		t.Fatalf("body %q", b)
	}
	if n := cc.opened.Load(); n != 3 {
		t.Fatalf("%d connections opened, want 3", n)
	}
}

func TestABodyClosedBeforeItsEndClosesItsConnection(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 100<<10))
	})
	cl := newClient(t, &Transport{})
	for range 2 {
		resp, err := cl.Post(srv.URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Fatal("read on a closed body succeeded")
		}
	}
	if n := cc.opened.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a half-read body's connection is not reused", n)
	}
}

func TestIdleConnectionsExpireAndArePerHostBounded(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	tr := &Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 300 * time.Millisecond}
	cl := newClient(t, tr)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { post(t, cl, context.Background(), srv.URL, "x", nil) })
	}
	wg.Wait()
	if o, c := cc.opened.Load(), tr.closed.Load(); o != 5 || c != 3 {
		t.Fatalf("5 concurrent requests: %d opened, %d closed by the client; want 5 and 3 (2 kept)", o, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.closed.Load() != 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := tr.closed.Load(); c != 5 {
		t.Fatalf("%d connections closed 5 s after a 300 ms idle timeout, want 5", c)
	}
	if n := hosts(tr); n != 0 {
		t.Fatalf("%d host pools left once their connections expired, want 0", n)
	}
	// A new request makes a new pool.
	post(t, cl, context.Background(), srv.URL, "x", nil)
	if n := hosts(tr); n != 1 {
		t.Fatalf("%d host pools after a new request, want 1", n)
	}
}

func hosts(tr *Transport) int {
	n := 0
	tr.hosts.Range(func(any, any) bool { n++; return true })
	return n
}

func TestWhatItDoesNotServeGoesToTheFallback(t *testing.T) {
	rec := &recordingRoundTripper{}
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	proxied, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	tr := &Transport{Fallback: rec, Proxy: func(r *http.Request) (*url.URL, error) {
		if r.URL.Host == strings.TrimPrefix(proxied.URL, "http://") {
			return url.Parse("http://proxy.invalid:3128")
		}
		return nil, nil
	}}
	cl := &http.Client{Transport: tr}
	cases := []struct {
		url      string
		header   http.Header
		fallback bool
	}{
		{srv.URL, nil, false},
		{strings.Replace(srv.URL, "http:", "https:", 1), nil, true},
		{proxied.URL, nil, true},
		{srv.URL, http.Header{"Expect": {"100-continue"}}, true},
		{srv.URL, http.Header{"Upgrade": {"websocket"}}, true},
		{srv.URL, http.Header{"X-Body": {"64 KiB"}}, false},
		{srv.URL, http.Header{"X-Body": {"64 KiB + 1"}}, true},
		{srv.URL, http.Header{"X-Body": {"unknown length"}}, true},
	}
	for _, c := range cases {
		before := rec.n.Load()
		var body io.Reader = bytes.NewReader([]byte("x"))
		switch c.header.Get("X-Body") {
		case "64 KiB":
			body = bytes.NewReader(make([]byte, 64<<10))
		case "64 KiB + 1":
			body = bytes.NewReader(make([]byte, 64<<10+1))
		case "unknown length":
			body = io.MultiReader(strings.NewReader("x"))
		}
		req, _ := http.NewRequest(http.MethodPost, c.url, body)
		for k, v := range c.header {
			req.Header[k] = v
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s %v: %v", c.url, c.header, err)
		}
		_ = resp.Body.Close()
		if got := rec.n.Load() > before; got != c.fallback || (resp.StatusCode == 299) != c.fallback {
			t.Fatalf("%s %v: fallback %v (status %d), want %v", c.url, c.header, got, resp.StatusCode, c.fallback)
		}
	}
	// The proxied host's pool holds no connections; it is forgotten after the idle timeout.
	if n := hosts(tr); n != 2 {
		t.Fatalf("%d host pools, want 2 (the direct and the proxied host)", n)
	}
	tr2 := &Transport{Fallback: rec, IdleConnTimeout: 100 * time.Millisecond, Proxy: func(*http.Request) (*url.URL, error) {
		return url.Parse("http://proxy.invalid:3128")
	}}
	resp, err := (&http.Client{Transport: tr2}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for hosts(tr2) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hosts(tr2); n != 0 {
		t.Fatalf("a proxied host's pool stayed %v after a 100 ms idle timeout", 5*time.Second)
	}

	// Without a fallback such a request fails clearly.
	_, err = (&http.Client{Transport: &Transport{}}).Get(strings.Replace(srv.URL, "http:", "https:", 1))
	if !errors.Is(err, errNoFallback) {
		t.Fatalf("error %v, want %v", err, errNoFallback)
	}
}

func TestRedirectsStayWithTheClient(t *testing.T) {
	var hits atomic.Int64
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
			return
		}
		b, _ := io.ReadAll(r.Body)
		hits.Add(1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(b)
	})
	cl := newClient(t, &Transport{})
	resp, b := post(t, cl, context.Background(), srv.URL+"/old", "the event", nil)
	if resp.StatusCode != http.StatusAccepted || string(b) != "the event" || hits.Load() != 1 {
		t.Fatalf("after a 307: %d %q, %d hits", resp.StatusCode, b, hits.Load())
	}
}

func TestDialErrorsAreReturned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cl := newClient(t, &Transport{})
	_, err = cl.Post("http://"+addr, "text/plain", strings.NewReader("x"))
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("error %v, want a dial error", err)
	}
}

func TestInvalidHeadersAreRejectedAsNetHTTPDoes(t *testing.T) {
	var hits atomic.Int64
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	for _, h := range []http.Header{{"Bad Name": {"v"}}, {"Ce-Id": {"a\r\nInjected: 1"}}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
		for k, v := range h {
			req.Header[k] = v
		}
		_, ours := newClient(t, &Transport{}).Do(req)
		req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
		for k, v := range h {
			req.Header[k] = v
		}
		_, std := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if ours == nil || std == nil {
			t.Fatalf("header %v: error %v, net/http's %v; want both to fail", h, ours, std)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests with invalid headers reached the server", n)
	}
}

func TestARequestOnAConnectionClosedUnderItIsSentAgainOnce(t *testing.T) {
	// The server answers one request per connection and closes it without saying so; the next
	// request follows at once (no peek), meets the closed connection, and is sent again on a new
	// one — when its body can be replayed.
	u, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(t, br) {
			_, _ = io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
		}
	})
	cl := newClient(t, &Transport{})
	for i := range 20 {
		resp, _ := post(t, cl, context.Background(), u, "event", nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if n := accepted.Load(); n != 20 {
		t.Fatalf("%d connections for 20 requests, want 20", n)
	}

	// A body that cannot be replayed is not sent again: the error is returned.
	failed := 0
	for range 20 {
		req, _ := http.NewRequest(http.MethodPost, u, nil)
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader("event")), 5
		resp, err := cl.Do(req)
		if err != nil {
			failed++
			continue
		}
		_ = resp.Body.Close()
	}
	if failed == 0 {
		t.Fatal("no request with a body that cannot be replayed failed on a closed connection")
	}
}

// ctxRecorder answers 299 and keeps the context of the last request it served.
type ctxRecorder struct {
	mu  sync.Mutex
	ctx context.Context
}

func (c *ctxRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.ctx = r.Context()
	c.mu.Unlock()
	return &http.Response{StatusCode: 299, Body: io.NopCloser(strings.NewReader("fallback")), Request: r, Header: http.Header{}}, nil
}

// RoundTripDeadline bounds the exchange and the body by its deadline as a context deadline would
// (the earlier of the two wins), without the context; a request for the fallback gets a context
// with the deadline, which ends once its body is closed.
func TestADeadlineBoundsTheExchangeAsAContextWould(t *testing.T) {
	release := make(chan struct{})
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slowbody" {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "start")
			w.(http.Flusher).Flush()
		}
		if r.URL.Path != "/fast" {
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	})
	defer close(release)
	rec := &ctxRecorder{}
	tr := &Transport{Fallback: rec}
	t.Cleanup(tr.CloseIdleConnections)
	roundTrip := func(ctx context.Context, path string, deadline time.Time) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader("x"))
		return tr.RoundTripDeadline(req, deadline)
	}

	start := time.Now()
	if _, err := roundTrip(context.Background(), "/slow", time.Now().Add(100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("a 100 ms deadline ended the request after %v", d)
	}

	// A context's earlier deadline wins over a later one given.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := roundTrip(ctx, "/slow", time.Now().Add(time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("a context's 100 ms deadline ended the request after %v", d)
	}

	// The deadline holds while the body is read.
	resp, err := roundTrip(context.Background(), "/slowbody", time.Now().Add(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = io.ReadAll(resp.Body); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reading a body past the deadline: %v, want context.DeadlineExceeded", err)
	}
	_ = resp.Body.Close()

	// Cancelling the context still ends the exchange.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := roundTrip(ctx, "/slow", time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}

	// None of those connections is reused; a request within its deadline goes through on a new one.
	resp, err = roundTrip(context.Background(), "/fast", time.Now().Add(time.Hour))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fast request: %v, %v", resp, err)
	}
	_ = resp.Body.Close()
	if n := cc.opened.Load(); n != 5 {
		t.Fatalf("%d connections opened, want 5", n)
	}

	// The fallback's request carries the deadline, until its body is closed.
	deadline := time.Now().Add(time.Hour)
	req, _ := http.NewRequest(http.MethodPost, strings.Replace(srv.URL, "http:", "https:", 1), strings.NewReader("x"))
	if resp, err = tr.RoundTripDeadline(req, deadline); err != nil || resp.StatusCode != 299 {
		t.Fatalf("fallback: %v, %v", resp, err)
	}
	rec.mu.Lock()
	fctx := rec.ctx
	rec.mu.Unlock()
	if d, ok := fctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("the fallback's request has deadline %v (%v), want %v", d, ok, deadline)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "fallback" || fctx.Err() != nil {
		t.Fatalf("fallback body %q, %v; context %v before Close", b, err, fctx.Err())
	}
	_ = resp.Body.Close()
	if fctx.Err() == nil {
		t.Error("the fallback request's context outlived its body")
	}
}

// A connection that takes long to open is bounded by RoundTripDeadline's deadline too.
func TestADeadlineBoundsTheDial(t *testing.T) {
	tr := &Transport{Fallback: failingRoundTripper{t}, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return nil, errors.New("the dial was not bounded")
		}
	}}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("x"))
	start := time.Now()
	if _, err := tr.RoundTripDeadline(req, time.Now().Add(100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("a 100 ms deadline ended the dial after %v", d)
	}
}
