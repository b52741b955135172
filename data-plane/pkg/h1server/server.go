// Package h1server serves HTTP/1.1 for a handler that takes many small requests and answers each
// with a small response, as the ingress does: a connection's requests are read, handled and
// answered on that connection's one goroutine, with no per-request context, no background read
// and no response buffer of net/http's.
//
// net/http's Server, for each request on a keep-alive connection, derives and cancels a context,
// starts a goroutine that reads ahead while the handler runs (to notice the client leaving) and
// stops it again when the handler returns; for a 1 KiB POST answered 202 that is about as much CPU
// as the rest of the exchange (see docs/benchmarks.md). This server takes the plain case itself —
// an HTTP/1.1 POST with an origin-form path, a Content-Length or no body, headers that fit in one
// read buffer and nothing that asks for more than a request and a response (Connection: keep-alive
// and close included) — and hands every other
// connection, from the first request that is not plain, to a net/http Server with the same handler
// and settings, the bytes it already read included. Behaviour there is net/http's.
//
// What the handler sees differs from net/http's in three ways on the plain path: the request's
// context is the server's base context, not one cancelled when the client leaves; the response is
// held until the handler returns and written with its Content-Length, so it suits small responses
// (the handler cannot stream, flush or hijack); and header changes after WriteHeader still count.
package h1server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

const (
	// bufferSize is a connection's read buffer: a request's headers must fit in it for this server
	// to take the request itself (larger ones go to net/http, which bounds them by MaxHeaderBytes).
	bufferSize = 4 << 10
	// maxDiscard is the most of a body the handler left unread that is read and dropped to keep
	// the connection; past it the connection closes after the response, as net/http does.
	maxDiscard = 256 << 10
	// shutdownPoll is how often Shutdown looks whether the active connections finished.
	shutdownPoll = 10 * time.Millisecond
)

// Server serves HTTP/1.1 with Handler. Set its fields before Serve; it is safe for concurrent use
// afterwards.
type Server struct {
	// Handler answers every request, on the plain path and through net/http.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers; IdleTimeout how long a keep-alive
	// connection waits for its next request. Zero means no bound.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds the headers of requests net/http serves (the plain path's are bounded
	// by its buffer).
	MaxHeaderBytes int
	// ConnState, when set, is called as net/http's Server calls it: StateNew, StateActive and
	// StateIdle per request, StateClosed at the end. A connection handed to net/http is reported
	// StateHijacked here and then, as a different net.Conn, by net/http.
	ConnState func(net.Conn, http.ConnState)
	// ErrorLog receives panics in the handler; the standard logger when nil.
	ErrorLog *log.Logger

	initOnce sync.Once
	fallback *http.Server
	handoff  *handoffListener

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutting  atomic.Bool
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.fallback = &http.Server{
			Handler:           s.Handler,
			ReadHeaderTimeout: s.ReadHeaderTimeout,
			IdleTimeout:       s.IdleTimeout,
			MaxHeaderBytes:    s.MaxHeaderBytes,
			ConnState:         s.ConnState,
			ErrorLog:          s.ErrorLog,
		}
		s.handoff = &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
		go func() { _ = s.fallback.Serve(s.handoff) }()
	})
}

// Serve accepts connections on ln until Shutdown or Close, then returns http.ErrServerClosed;
// any other accept error ends it too.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			// A transient failure (EMFILE, ECONNABORTED) is retried after a pause, as net/http
			// does, rather than ending the server.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := &conn{srv: s, rw: rw}
		if !s.track(c) {
			_ = rw.Close()
			continue
		}
		s.setState(c, http.StateNew)
		go c.serve()
	}
}

// track adds c to the open connections, unless the server is shutting down.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) setState(c *conn, st http.ConnState) {
	c.state.Store(int32(st))
	if s.ConnState != nil {
		s.ConnState(c.rw, st)
	}
}

// Shutdown stops accepting, closes idle connections and waits, until ctx ends, for the others to
// finish their request; net/http's part shuts down alike.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.stopAccepting()
	fallback := make(chan error, 1)
	go func() { fallback <- s.fallback.Shutdown(ctx) }()
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return <-fallback
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.stopAccepting()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.rw.Close()
	}
	s.mu.Unlock()
	return s.fallback.Close()
}

func (s *Server) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Swap(true) {
		return
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.handoff.close()
}

// closeIdle closes the connections waiting for a request and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if st := http.ConnState(c.state.Load()); st == http.StateIdle || st == http.StateNew {
			_ = c.rw.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// conn is one client connection on the plain path.
type conn struct {
	srv        *Server
	rw         net.Conn
	br         *bufio.Reader
	remoteAddr string
	state      atomic.Int32
	// out is the response being written, kept across requests.
	out []byte
}

func (c *conn) serve() {
	handedOff := false
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logf("h1server: panic serving %s: %v\n%s", c.remoteAddr, v, buf)
		}
		c.srv.untrack(c)
		if !handedOff {
			_ = c.rw.Close()
			c.srv.setState(c, http.StateClosed)
		}
	}()
	if ra := c.rw.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	c.br = bufio.NewReaderSize(c.rw, bufferSize)
	srv := c.srv
	for first := true; ; first = false {
		// Wait for the request's first byte: a new connection within the header timeout, as
		// net/http bounds it, a kept-alive one within the idle timeout. Setting the deadline
		// every time also drops whatever deadline the handler left.
		var deadline time.Time
		if first && srv.ReadHeaderTimeout > 0 {
			deadline = time.Now().Add(srv.ReadHeaderTimeout)
		} else if !first && srv.IdleTimeout > 0 {
			deadline = time.Now().Add(srv.IdleTimeout)
		}
		_ = c.rw.SetReadDeadline(deadline)
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if srv.shutting.Load() {
			return
		}
		srv.setState(c, http.StateActive)
		if !first && srv.ReadHeaderTimeout > 0 {
			_ = c.rw.SetReadDeadline(time.Now().Add(srv.ReadHeaderTimeout))
		}
		head, err := c.readHead()
		if err != nil {
			return
		}
		var req *http.Request
		if head != "" && (srv.MaxHeaderBytes <= 0 || len(head) <= srv.MaxHeaderBytes) {
			req = parseHead(head)
		}
		if req == nil {
			handedOff = c.handOff(head)
			return
		}
		_ = c.rw.SetReadDeadline(time.Time{})
		if !c.serveRequest(req) {
			return
		}
		srv.setState(c, http.StateIdle)
	}
}

// readHead returns the next request's line and headers, up to and including the blank line
// ending them, consumed from the reader and copied once into a string (every string of the
// request is a slice of it); "" (and nothing consumed) when they do not fit in the buffer or use
// bare line feeds, for net/http to read.
func (c *conn) readHead() (string, error) {
	// Line ends left after a POST's body, which net/http skips too (RFC 9112, section 2.2).
	for {
		b, err := c.br.Peek(1)
		if err != nil {
			return "", err
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		_, _ = c.br.Discard(1)
	}
	for {
		n := c.br.Buffered()
		buf, _ := c.br.Peek(n)
		if end := headEnd(buf); end > 0 {
			head := string(buf[:end])
			_, _ = c.br.Discard(end)
			return head, nil
		} else if end < 0 || n == bufferSize {
			return "", nil
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return "", err
		}
	}
}

// headEnd returns the length of the head in buf (through "\r\n\r\n"), 0 when buf does not hold
// all of it yet, and -1 when a line ends in a bare "\n" before it (for net/http to judge).
func headEnd(buf []byte) int {
	for i := 0; i < len(buf); i++ {
		if buf[i] != '\n' {
			continue
		}
		if i == 0 || buf[i-1] != '\r' {
			return -1
		}
		if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
			return i + 1
		}
	}
	return 0
}

// parseHead returns the request whose line and headers head holds, if it is one this server
// serves itself: what net/http's ReadRequest would make of the same bytes, with Body and
// RemoteAddr left to the caller. Anything else — another method or version, a query or escapes
// in the path, a transfer coding, Expect, Upgrade, a Connection other than keep-alive or close,
// Pragma, a folded, malformed or repeated special header — is nil.
func parseHead(head string) *http.Request {
	s := head[:len(head)-2]
	line, rest, ok := cut(s)
	if !ok {
		return nil
	}
	const prefix, suffix = "POST ", " HTTP/1.1"
	if len(line) <= len(prefix)+len(suffix) || line[:len(prefix)] != prefix || line[len(line)-len(suffix):] != suffix {
		return nil
	}
	target := line[len(prefix) : len(line)-len(suffix)]
	if target[0] != '/' {
		return nil
	}
	for i := 0; i < len(target); i++ {
		if !pathByte(target[i]) {
			return nil
		}
	}
	lines := 0
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\n' {
			lines++
		}
	}
	values := make([]string, lines)
	h := make(http.Header, lines)
	req := &http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: target},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		RequestURI: target,
	}
	var haveHost, haveLength, haveConnection bool
	for n := 0; rest != ""; n++ {
		line, rest, _ = cut(rest)
		colon := -1
		for i := 0; i < len(line); i++ {
			if line[i] == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 || !httpguts.ValidHeaderFieldName(line[:colon]) {
			return nil // including folded lines, which start with a space or tab
		}
		key := textproto.CanonicalMIMEHeaderKey(line[:colon])
		value := trim(line[colon+1:])
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		switch key {
		case "Host":
			if haveHost || !httpguts.ValidHostHeader(value) {
				return nil
			}
			haveHost, req.Host = true, value
			continue
		case "Content-Length":
			if haveLength {
				return nil
			}
			length, ok := parseLength(value)
			if !ok {
				return nil
			}
			haveLength, req.ContentLength = true, length
		case "Connection":
			// Python's, Java's and Node's clients send keep-alive on every request; close asks
			// for the connection to end after the response. Anything else (an upgrade) is left.
			if haveConnection {
				return nil
			}
			haveConnection = true
			switch {
			case asciiEqualFold(value, "keep-alive"):
			case asciiEqualFold(value, "close"):
				req.Close = true
			default:
				return nil
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Pragma", "Http2-Settings", "Te", "Trailer":
			return nil
		}
		values[n] = value
		if vv := h[key]; vv != nil {
			h[key] = append(vv, value)
		} else {
			h[key] = values[n : n+1 : n+1]
		}
	}
	if !haveHost {
		return nil
	}
	return req
}

// asciiEqualFold reports whether s is t (lower case) in any case.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != t[i] {
			return false
		}
	}
	return true
}

// cut splits s at its first "\r\n".
func cut(s string) (line, rest string, found bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

// trim removes the spaces and tabs around a header value.
func trim(v string) string {
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// parseLength parses a Content-Length the way net/http accepts one: decimal digits only.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// pathByte reports whether b may appear in a plain path: one that net/url would not escape, so
// URL.Path is the target as sent and RawPath empty (no '%', '?', '#', spaces or controls).
func pathByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '/', '-', '.', '_', '~', '$', '&', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// serveRequest runs the handler for req and writes its response; false when the connection
// must close afterwards.
func (c *conn) serveRequest(req *http.Request) (keep bool) {
	req.RemoteAddr = c.remoteAddr
	var b *body
	if req.ContentLength > 0 {
		b = &body{r: c.br, n: req.ContentLength}
		req.Body = b
	} else {
		req.Body = http.NoBody
	}
	w := &response{c: c}
	c.srv.Handler.ServeHTTP(w, req)
	keep = !c.srv.shutting.Load() && !req.Close
	if b != nil && b.n > 0 {
		keep = keep && b.discard()
	}
	if err := w.finish(!keep); err != nil {
		return false
	}
	return keep
}

// handOff gives the connection to net/http with what was read of it: head, when it was consumed
// already, then what the reader holds; false
// when the server is shutting down and the connection closes instead.
func (c *conn) handOff(head string) bool {
	c.srv.setState(c, http.StateHijacked)
	_ = c.rw.SetReadDeadline(time.Time{})
	return c.srv.handoff.give(&bufferedConn{Conn: c.rw, head: []byte(head), r: c.br})
}

// body is a request body of known length read from the connection's buffer.
type body struct {
	r      *bufio.Reader
	n      int64
	closed bool
	err    error
}

func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	case b.n == 0:
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
	} else if b.n == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *body) Close() error {
	b.closed = true
	return nil
}

// discard reads what the handler left of the body, if it is small, so the next request can be
// read; false when the connection has to close instead.
func (b *body) discard() bool {
	if b.err != nil || b.n > maxDiscard {
		return false
	}
	n, err := b.r.Discard(int(b.n))
	b.n -= int64(n)
	return err == nil && b.n == 0
}

// response is the handler's http.ResponseWriter: status, headers and body held until the handler
// returns, then written in one write.
type response struct {
	c      *conn
	header http.Header
	status int
	body   []byte
}

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("h1server: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.status != 0 || code < 200 { // informational responses are not sent
		return
	}
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.rw.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rw.SetWriteDeadline(t) }

// finish writes the response: status line, the handler's headers (Date and Content-Type added as
// net/http adds them), Content-Length, and Connection: close when closing.
func (w *response) finish(closing bool) error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	out := w.c.out[:0]
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(w.status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(w.status)...)
	out = append(out, "\r\n"...)
	h := w.header
	if _, ok := h["Date"]; !ok {
		out = append(out, "Date: "...)
		out = appendDate(out)
		out = append(out, "\r\n"...)
	}
	if len(w.body) > 0 {
		if _, ok := h["Content-Type"]; !ok {
			out = appendHeader(out, "Content-Type", http.DetectContentType(w.body))
		}
	}
	for k, vv := range h {
		if k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding" || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			out = appendHeader(out, k, v)
		}
	}
	if bodyAllowed(w.status) {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, int64(len(w.body)), 10)
		out = append(out, "\r\n"...)
	}
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	out = append(out, w.body...)
	w.c.out = out
	if cap(out) > 2*bufferSize {
		w.c.out = nil // a large error body is not kept for the connection's life
	}
	_, err := w.c.rw.Write(out)
	return err
}

// appendHeader appends "k: v\r\n", with line breaks in v turned into spaces as net/http does.
func appendHeader(out []byte, k, v string) []byte {
	out = append(out, k...)
	out = append(out, ": "...)
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b == '\r' || b == '\n' {
			b = ' '
		}
		out = append(out, b)
	}
	return append(out, "\r\n"...)
}

// bodyAllowed reports whether a response with status code may have a body.
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// date caches the Date header's value for the current second.
var date atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	b   []byte
}

func appendDate(out []byte) []byte {
	now := time.Now()
	d := date.Load()
	if d == nil || d.sec != now.Unix() {
		d = &dateValue{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
		date.Store(d)
	}
	return append(out, d.b...)
}

// bufferedConn is a connection handed to net/http: reads return what the plain path had read
// ahead before reading the connection again.
type bufferedConn struct {
	net.Conn
	head []byte
	r    *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

// handoffListener feeds connections handed off by the plain path to net/http's Server.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// give passes c to net/http; false (c closed) once the listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		_ = c.Close()
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *handoffListener) Close() error {
	l.close()
	return nil
}

func (l *handoffListener) Addr() net.Addr { return &net.TCPAddr{} }
