package h1server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echo answers what it was asked: the status from a "/status/<code>" path, http.Error for
// "/error/<code>", the request's method, path, host, headers and body in its own headers, and a
// body left unread for "/noread".
func echo(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if !strings.HasPrefix(r.URL.Path, "/noread") {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			http.Error(w, "reading: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	h := w.Header()
	h.Set("X-Method", r.Method)
	h.Set("X-Path", r.URL.Path)
	h.Set("X-Host", r.Host)
	h.Set("X-Length", strconv.FormatInt(r.ContentLength, 10))
	h.Set("X-Body", string(body))
	var keys []string
	for k, vv := range r.Header {
		keys = append(keys, k+"="+strings.Join(vv, ","))
	}
	slices.Sort(keys)
	h.Set("X-Headers", strings.Join(keys, ";"))
	switch {
	case strings.HasPrefix(r.URL.Path, "/status/"):
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
	case strings.HasPrefix(r.URL.Path, "/error/"):
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/error/"))
		http.Error(w, "refused", code)
	case r.URL.Path == "/sniff":
		_, _ = w.Write([]byte("<html>hello</html>"))
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// start serves h on a new listener with this package's Server, configured by conf, and returns
// its address.
func start(t *testing.T, h http.Handler, conf func(*Server)) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	if conf != nil {
		conf(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), s
}

// startNetHTTP serves h with net/http's Server under the same settings.
func startNetHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ln.Addr().String()
}

// exchange is what a client saw for raw bytes written on one connection: each response (a Date
// header's value replaced by "present") and whether the server then closed the connection.
type exchange struct {
	responses []string
	closed    bool
}

func roundTrip(t *testing.T, addr, raw string, responses int) exchange {
	t.Helper()
	return roundTripFor(t, addr, raw, responses, nil)
}

// roundTripFor reads the responses as answers to req (a HEAD's has no body).
func roundTripFor(t *testing.T, addr, raw string, responses int, req *http.Request) exchange {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, raw) }()
	br := bufio.NewReader(c)
	var ex exchange
	for range responses {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			ex.responses = append(ex.responses, "error: "+err.Error())
			break
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Date") != "" {
			resp.Header.Set("Date", "present")
		}
		var keys []string
		for k, vv := range resp.Header {
			keys = append(keys, k+": "+strings.Join(vv, ","))
		}
		slices.Sort(keys)
		ex.responses = append(ex.responses, fmt.Sprintf("%s close=%v length=%d\n%s\n%q", resp.Status, resp.Close,
			resp.ContentLength, strings.Join(keys, "\n"), b))
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = br.ReadByte()
	ex.closed = err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)
	return ex
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

const post = "POST /ns/b HTTP/1.1\r\nHost: x\r\nCe-Id: 1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

// Every kind of request — taken here or handed to net/http, alone, pipelined or mixed on one
// connection — gets the responses net/http's own Server gives, and the connection ends the same.
func TestAnswersAsNetHTTPDoes(t *testing.T) {
	ours, _ := start(t, http.HandlerFunc(echo), nil)
	theirs := startNetHTTP(t, http.HandlerFunc(echo))
	big := strings.Repeat("b", 300<<10)
	cases := []struct {
		name      string
		raw       string
		responses int
	}{
		{"plain", post, 1},
		{"no body", "POST /ns/b HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"pipelined", post + post + post, 3},
		{"line ends between requests", post + "\r\n" + post, 2},
		{"status", "POST /status/204 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + post, 2},
		{"error", "POST /error/413 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1},
		{"sniffed", "POST /sniff HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"repeated header", "POST /ns/b HTTP/1.1\r\nHost: x\r\nX: 1\r\nx: 2\r\n\r\n", 1},
		{"chunked", "POST /ns/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + post, 2},
		{"plain, chunked, plain", post + "POST /ns/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" + post, 3},
		{"expect", "POST /ns/b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 1},
		{"get", "GET /ns/b HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"http/1.0", "POST /ns/b HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", 1},
		{"connection close", "POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", 1},
		{"connection close, pipelined", "POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + post, 1},
		{"connection keep-alive", "POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi" + post, 2},
		{"connection upgrade", "POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 1},
		{"query", "POST /ns/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"escaped", "POST /n%73/b HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"bare line feeds", "POST /ns/b HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi", 1},
		{"headers past the buffer", "POST /ns/b HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("v", 6<<10) + "\r\n\r\n" + post, 2},
		{"headers past the bound", "POST /ns/b HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("v", 17<<10) + "\r\n\r\n", 1},
		{"no host", "POST /ns/b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1},
		{"two hosts", "POST /ns/b HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 1},
		{"bad header", "POST /ns/b HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 1},
		{"garbage", "hello\r\n\r\n", 1},
		{"unread small body", "POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + post, 2},
		{"unread large body", "POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, 1},
		{"short body", "POST /ns/b HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nhello", 0},
	}
	head := "HEAD /ns/b HTTP/1.1\r\nHost: x\r\n\r\n"
	headReq := &http.Request{Method: http.MethodHead}
	if got, want := roundTripFor(t, ours, head, 1, headReq), roundTripFor(t, theirs, head, 1, headReq); !slices.Equal(got.responses, want.responses) || got.closed != want.closed {
		t.Errorf("HEAD here %v, net/http %v", got, want)
	}
	if ex := roundTrip(t, ours, post, 1); !strings.Contains(ex.responses[0], "Date: present") {
		t.Errorf("a response taken here has no Date header: %s", ex.responses[0])
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got exchange
			done := make(chan struct{})
			go func() { defer close(done); got = roundTrip(t, ours, tc.raw, tc.responses) }()
			want := roundTrip(t, theirs, tc.raw, tc.responses)
			<-done
			if !slices.Equal(got.responses, want.responses) {
				t.Errorf("responses here:\n%s\nnet/http:\n%s", strings.Join(got.responses, "\n--\n"), strings.Join(want.responses, "\n--\n"))
			}
			if got.closed != want.closed {
				t.Errorf("connection closed here %v, by net/http %v", got.closed, want.closed)
			}
		})
	}
}

// stateLog records the ConnState calls per connection.
type stateLog struct {
	mu  sync.Mutex
	seq map[net.Conn][]http.ConnState
	all []net.Conn
}

func (l *stateLog) hook(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == nil {
		l.seq = map[net.Conn][]http.ConnState{}
	}
	if _, ok := l.seq[c]; !ok {
		l.all = append(l.all, c)
	}
	l.seq[c] = append(l.seq[c], s)
}

func (l *stateLog) states() [][]http.ConnState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]http.ConnState
	for _, c := range l.all {
		out = append(out, slices.Clone(l.seq[c]))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection goes new, active and idle per request and closed as net/http reports them, and one
// handed to net/http is reported hijacked here and then by net/http as a connection of its own.
func TestConnStateFollowsEachRequest(t *testing.T) {
	var log stateLog
	addr, _ := start(t, http.HandlerFunc(echo), func(s *Server) { s.ConnState = log.hook })
	if ex := roundTrip(t, addr, post+post, 2); ex.closed {
		t.Fatal("a keep-alive connection was closed")
	}
	N, A, I, H, C := http.StateNew, http.StateActive, http.StateIdle, http.StateHijacked, http.StateClosed
	want := [][]http.ConnState{{N, A, I, A, I, C}}
	waitFor(t, "the connection is reported closed", func() bool { return slices.EqualFunc(log.states(), want, slices.Equal) })

	roundTrip(t, addr, post+"GET /ns/b HTTP/1.1\r\nHost: x\r\n\r\n", 2)
	want = append(want, []http.ConnState{N, A, I, A, H}, []http.ConnState{N, A, I, C})
	waitFor(t, "the handed-off connection is reported closed", func() bool {
		return slices.EqualFunc(log.states(), want, slices.Equal)
	})
}

// A kept-alive connection closes after IdleTimeout, one that does not finish its headers after
// ReadHeaderTimeout; and the handler's read deadline (http.ResponseController) ends a slow body.
func TestTimeouts(t *testing.T) {
	bodyErr := make(chan error, 1)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				bodyErr <- err
				return
			}
			_, err := io.ReadAll(r.Body)
			bodyErr <- err
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}), func(s *Server) {
		s.IdleTimeout = 300 * time.Millisecond
		s.ReadHeaderTimeout = 300 * time.Millisecond
	})
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	closedWithin := func(br *bufio.Reader, d time.Duration) bool {
		start := time.Now()
		_, err := br.ReadByte()
		return err != nil && time.Since(start) < d
	}

	c, br := dial()
	_, _ = io.WriteString(c, post)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response %v, %v", resp, err)
	}
	if !closedWithin(br, 3*time.Second) {
		t.Error("an idle connection outlived IdleTimeout")
	}

	_, br = dial()
	if !closedWithin(br, 3*time.Second) {
		t.Error("a connection that sent nothing outlived ReadHeaderTimeout")
	}
	c, br = dial()
	_, _ = io.WriteString(c, "POST /ns/b HTTP/1.1\r\nHost: x\r\n")
	if !closedWithin(br, 3*time.Second) {
		t.Error("a connection that never finished its headers outlived ReadHeaderTimeout")
	}

	c, br = dial()
	_, _ = io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
	if err := <-bodyErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("reading a body that stalls past the handler's deadline: %v, want a deadline error", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("response %v, %v; want 408 closing the connection", resp, err)
	}
}

// Shutdown closes idle connections at once, lets a request in progress finish (closing its
// connection after the response), and returns once it has; Serve then returns ErrServerClosed.
func TestShutdownWaitsForRequestsInProgress(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	// send opens a connection and writes raw on it; answered, it reads the response.
	send := func(raw string, answered bool) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		br := bufio.NewReader(c)
		_, _ = io.WriteString(c, raw)
		if answered {
			if _, err := http.ReadResponse(br, nil); err != nil {
				t.Fatal(err)
			}
		}
		return c, br
	}
	idle, idleR := send(post, true)
	handed, handedR := send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n", true)
	busy, _ := send("POST /block HTTP/1.1\r\nHost: x\r\n\r\n", false)
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	for name, br := range map[string]*bufio.Reader{"idle": idleR, "handed-off idle": handedR} {
		_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
		_ = handed.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("the %s connection got bytes instead of being closed", name)
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	_ = busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != http.StatusAccepted || !resp.Close {
		t.Fatalf("the request in progress got %v, %v; want 202 with Connection: close", resp, err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// A panic in the handler closes that connection alone, is logged, and the server goes on.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.WriteHeader(http.StatusAccepted)
	}), func(s *Server) {
		s.ErrorLog = log.New(writerFunc(func(p []byte) { mu.Lock(); logged.Write(p); mu.Unlock() }), "", 0)
	})
	ex := roundTrip(t, addr, "POST /panic HTTP/1.1\r\nHost: x\r\n\r\n", 1)
	if !ex.closed || !strings.HasPrefix(ex.responses[0], "error:") {
		t.Errorf("a panicking request got %v; want the connection closed without a response", ex)
	}
	if ex := roundTrip(t, addr, post, 1); !strings.HasPrefix(ex.responses[0], "202") {
		t.Errorf("after a panic, a request got %v", ex.responses)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "boom") {
		t.Errorf("the panic was not logged: %q", logged.String())
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// flakyListener fails its first accepts with a temporary error, as a listener out of file
// descriptors does, then accepts from the real one.
type flakyListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A listener out of file descriptors pauses the server, not ends it.
func TestTemporaryAcceptErrorsAreRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln}
	fl.failures.Store(3)
	s := &Server{Handler: http.HandlerFunc(echo)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(fl) }()
	if ex := roundTrip(t, ln.Addr().String(), post, 1); !strings.HasPrefix(ex.responses[0], "202") {
		t.Errorf("after temporary accept errors a request got %v", ex.responses)
	}
	_ = s.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve ended with %v, want ErrServerClosed after Close", err)
	}
}
