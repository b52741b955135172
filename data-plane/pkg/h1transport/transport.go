// Package h1transport is an http.RoundTripper for many small requests over plain HTTP/1.1 to few
// hosts, as the dispatcher makes them: each request is written and its response read on the
// calling goroutine, over a pooled keep-alive connection, with net/http's own request writer and
// response parser (http.Request.Write, http.ReadResponse).
//
// net/http's Transport serves each connection with two goroutines of its own and hands every
// request and response between them and the caller over channels; for a 1 KiB POST answered 202
// that machinery costs about as much CPU as the rest of the exchange (see docs/benchmarks.md).
// Everything this transport does not do itself — https, requests through a proxy, CONNECT,
// upgrades, 100-continue, bodies over 64 KiB or of unknown length — goes to a fallback transport,
// so behaviour there is net/http's.
// Redirects, cookies and URL credentials stay with the http.Client in front of it.
package h1transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Defaults for a zero Transport's fields.
const (
	DefaultMaxIdleConnsPerHost    = 1000
	DefaultIdleConnTimeout        = 90 * time.Second
	DefaultMaxResponseHeaderBytes = 1 << 20
	defaultDialTimeout            = 30 * time.Second
	defaultKeepAlive              = 30 * time.Second
	// bufferSize is each connection's read and write buffer: a delivery's headers and a 1 KiB
	// event fit in one write.
	bufferSize = 4 << 10
	// maxBodyBytes is the largest request body this transport writes itself. It writes a request
	// whole before reading the answer, which is safe while the request fits in the sockets'
	// buffers: a server answering early (a 413) without reading a larger body would leave the
	// write blocked until the deadline, where net/http's Transport, reading while it writes,
	// returns the answer. Larger bodies, and bodies of unknown length, go to Fallback.
	maxBodyBytes = 64 << 10
	// peekAfter is how long a connection sits idle before it is checked for the peer's close.
	peekAfter = 2 * time.Millisecond
	// max1xxResponses bounds the informational responses skipped before the final one, as
	// net/http's Transport does.
	max1xxResponses = 5
)

// Transport is an http.RoundTripper; its zero value is usable once Fallback is set (requests it
// does not serve itself fail without one). It is safe for concurrent use.
type Transport struct {
	// Fallback serves https, proxied, CONNECT, upgrade and 100-continue requests, and those
	// whose body is over 64 KiB or of unknown length.
	Fallback http.RoundTripper
	// Proxy, when set, is asked once per scheme and host (as net/http's Transport asks per
	// request, with the same answer for a host while the environment does not change); hosts
	// it names a proxy for go to Fallback. Use Fallback's own Proxy function.
	Proxy func(*http.Request) (*url.URL, error)
	// DialContext opens connections; by default a net.Dialer with a 30 s timeout and 30 s TCP
	// keep-alive.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdleConnsPerHost bounds the keep-alive connections kept per host; zero means
	// DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes connections idle for longer; zero means DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's status line and headers; zero means
	// DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int64

	hosts sync.Map // url.URL.Host → *hostPool
	// closed counts connections closed, for tests.
	closed atomic.Int64
}

// errHeaderTooLarge is returned when a response's headers exceed MaxResponseHeaderBytes.
var errHeaderTooLarge = errors.New("h1transport: response headers too large")

// errNoFallback is returned for a request only Fallback could serve when there is none.
var errNoFallback = errors.New("h1transport: no fallback transport for this request")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, time.Time{})
}

// RoundTripDeadline is RoundTrip bounded by deadline as well as by the request's context, until
// the response body has been read to its end or closed, as if the request's context had that
// deadline: a request it ends fails with context.DeadlineExceeded. It spares a caller that bounds
// each request the context it would derive for it, with its timer and its registration with the
// parent (a few per cent of a delivery, docs/benchmarks.md). Requests Fallback serves get that
// context.
func (t *Transport) RoundTripDeadline(req *http.Request, deadline time.Time) (*http.Response, error) {
	return t.roundTrip(req, deadline)
}

// roundTrip serves req, bounded by deadline when it is not zero.
func (t *Transport) roundTrip(req *http.Request, deadline time.Time) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || req.Method == http.MethodConnect ||
		len(req.Header["Upgrade"]) > 0 || len(req.Header["Expect"]) > 0 ||
		req.ContentLength < 0 || req.ContentLength > maxBodyBytes ||
		(req.ContentLength == 0 && req.Body != nil && req.Body != http.NoBody) { // 0 with a body: unknown
		return t.fallbackBefore(req, deadline)
	}
	if err := validHeader(req.Header); err != nil {
		closeBody(req)
		return nil, err
	}
	p, err := t.pool(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if p.proxied {
		return t.fallbackBefore(req, deadline)
	}
	return p.roundTrip(req, deadline)
}

// validHeader rejects the header field names and values net/http's Transport rejects: Request.Write
// would send them as they are.
func validHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("h1transport: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("h1transport: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// fallbackBefore has Fallback serve req, under a context with deadline unless that is zero. The
// context ends when the response body is closed.
func (t *Transport) fallbackBefore(req *http.Request, deadline time.Time) (*http.Response, error) {
	if deadline.IsZero() {
		return t.fallback(req)
	}
	ctx, cancel := context.WithDeadline(req.Context(), deadline)
	resp, err := t.fallback(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody is a response body that ends its request's context once closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (t *Transport) fallback(req *http.Request) (*http.Response, error) {
	if t.Fallback == nil {
		closeBody(req)
		return nil, errNoFallback
	}
	return t.Fallback.RoundTrip(req)
}

// CloseIdleConnections closes every idle connection, this transport's and Fallback's.
func (t *Transport) CloseIdleConnections() {
	t.hosts.Range(func(_, v any) bool {
		v.(*hostPool).closeIdle(time.Time{})
		return true
	})
	if c, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// pool returns the connection pool of req's host, making it on first use.
func (t *Transport) pool(req *http.Request) (*hostPool, error) {
	if v, ok := t.hosts.Load(req.URL.Host); ok {
		return v.(*hostPool), nil
	}
	p := &hostPool{t: t, key: req.URL.Host, addr: canonicalAddr(req.URL)}
	if t.Proxy != nil {
		u, err := t.Proxy(req)
		if err != nil {
			return nil, err
		}
		p.proxied = u != nil
	}
	v, loaded := t.hosts.LoadOrStore(p.key, p)
	if !loaded && p.proxied {
		// It holds no connections to expire: forget it after as long, asking Proxy again then.
		time.AfterFunc(t.idleTimeout(), func() { t.hosts.CompareAndDelete(p.key, p) })
	}
	return v.(*hostPool), nil
}

func (t *Transport) maxIdle() int {
	if t.MaxIdleConnsPerHost > 0 {
		return t.MaxIdleConnsPerHost
	}
	return DefaultMaxIdleConnsPerHost
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout > 0 {
		return t.IdleConnTimeout
	}
	return DefaultIdleConnTimeout
}

func (t *Transport) maxHeaderBytes() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return t.MaxResponseHeaderBytes
	}
	return DefaultMaxResponseHeaderBytes
}

func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	if t.DialContext != nil {
		return t.DialContext(ctx, "tcp", addr)
	}
	d := net.Dialer{Timeout: defaultDialTimeout, KeepAlive: defaultKeepAlive}
	return d.DialContext(ctx, "tcp", addr)
}

// canonicalAddr is u's host and port, port 80 when u names none.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// hostPool holds one host's idle connections, most recently used last. A pool whose last idle
// connection expired leaves Transport.hosts, so that hosts no longer delivered to cost nothing.
type hostPool struct {
	t       *Transport
	key     string // url.URL.Host
	addr    string
	proxied bool

	mu    sync.Mutex
	idle  []*conn
	timer *time.Timer // closes connections idle past the timeout; armed while idle is not empty
}

// get returns an idle connection that is still open, or nil.
func (p *hostPool) get() *conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if c.open() {
			return c
		}
		c.close()
	}
}

// put keeps c for the next request, or closes it when the pool is full.
func (p *hostPool) put(c *conn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.t.maxIdle() {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	if p.timer == nil {
		p.timer = time.AfterFunc(p.t.idleTimeout(), p.expire)
	}
	p.mu.Unlock()
}

// expire closes the connections idle past the timeout and re-arms itself while any remain.
func (p *hostPool) expire() {
	timeout := p.t.idleTimeout()
	p.closeIdle(time.Now().Add(-timeout))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if len(p.idle) > 0 {
		// The oldest remaining connection expires first.
		p.timer = time.AfterFunc(max(time.Until(p.idle[0].idleSince.Add(timeout)), time.Millisecond), p.expire)
		return
	}
	// A request that found this pool before it left may still put a connection into it: that
	// connection is not reused, and the timer put arms closes it.
	p.t.hosts.CompareAndDelete(p.key, p)
}

// closeIdle closes the idle connections idle since before cutoff; all of them for a zero cutoff.
func (p *hostPool) closeIdle(cutoff time.Time) {
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && (cutoff.IsZero() || p.idle[i].idleSince.Before(cutoff)) {
		i++
	}
	stale := make([]*conn, i)
	copy(stale, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
}

// roundTrip writes req on a pooled or new connection and reads the response head, by deadline
// when it is not zero and by the context's. The response body, when there is one, holds the
// connection until it is read to its end or closed.
func (p *hostPool) roundTrip(req *http.Request, deadline time.Time) (*http.Response, error) {
	ctx := req.Context()
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	c := p.get()
	reused := c != nil
	if c == nil {
		var err error
		if c, err = p.connect(ctx, deadline, req); err != nil {
			return nil, err
		}
	}
	resp, silent, err := c.roundTrip(ctx, deadline, req)
	if err != nil && reused && silent && replayable(req) && ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		// The peer closed a kept-alive connection as the request went out (its idle timeout
		// struck between our last use and this one) and answered nothing: the request goes
		// again, once, on a new connection. net/http's Transport does so for requests it may
		// replay; a delivery may be repeated (at least once) and this one was not answered.
		if req, err = rewound(req); err != nil {
			return nil, err
		}
		if c, err = p.connect(ctx, deadline, req); err != nil {
			return nil, err
		}
		resp, _, err = c.roundTrip(ctx, deadline, req)
	}
	if err != nil {
		return nil, contextError(ctx, deadline, err)
	}
	return resp, nil
}

// connect opens a new connection to p's host by deadline (zero: none); on failure it closes req's
// body, as a RoundTrip that fails must.
func (p *hostPool) connect(ctx context.Context, deadline time.Time, req *http.Request) (*conn, error) {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	nc, err := p.t.dial(ctx, p.addr)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	return newConn(p, nc), nil
}

// replayable says whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewound is a copy of req with its body from the start.
func rewound(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = b
	return &r, nil
}

// roundTrip makes one exchange on c under ctx, by deadline (zero: none). On error c is closed, and
// silent says whether no byte of an answer had arrived.
func (c *conn) roundTrip(ctx context.Context, deadline time.Time, req *http.Request) (resp *http.Response, silent bool, err error) {
	if err := c.begin(ctx, deadline); err != nil {
		closeBody(req)
		c.close()
		return nil, false, err
	}
	received := c.lr.received
	if resp, err = c.exchange(req); err != nil {
		silent = c.lr.received == received
		c.close()
		return nil, silent, err
	}
	reusable := !resp.Close && !req.Close && (resp.ContentLength >= 0 || isChunked(resp))
	if resp.Body == http.NoBody || resp.Body == nil {
		c.end(reusable)
		return resp, false, nil
	}
	resp.Body = &body{rc: resp.Body, c: c, ctx: ctx, deadline: deadline, reusable: reusable}
	return resp, false, nil
}

// contextError is ctx's error when ctx ended err's exchange, context.DeadlineExceeded when
// deadline (not zero: the connection's) did, and err otherwise. A context's deadline may pass on
// the connection a moment before the context notices.
func contextError(ctx context.Context, deadline time.Time, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if !deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return err
}

func isChunked(resp *http.Response) bool {
	return len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
}

// conn is one pooled connection.
type conn struct {
	p         *hostPool
	nc        net.Conn
	raw       syscall.RawConn // nil when nc is not a syscall.Conn
	lr        limitReader
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	// stop unregisters the current exchange's context watch; nil when its context cannot end.
	stop func() bool
}

func newConn(p *hostPool, nc net.Conn) *conn {
	c := &conn{p: p, nc: nc, lr: limitReader{r: nc, n: -1}}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	c.br = bufio.NewReaderSize(&c.lr, bufferSize)
	c.bw = bufio.NewWriterSize(nc, bufferSize)
	return c
}

// open reports whether the peer has not closed c while it sat idle, nor sent anything unasked:
// a non-blocking peek at the socket. net/http's Transport learns the same from the goroutine
// that reads each idle connection. A connection idle for less than peekAfter is not checked: a
// busy host's are reused within microseconds, and a peer closing one that soon races any client.
func (c *conn) open() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if c.raw == nil || time.Since(c.idleSince) < peekAfter {
		return true
	}
	// The last exchange's deadline is still set, and may have passed.
	if c.nc.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	var (
		buf [1]byte
		n   int
		err error
	)
	if rerr := c.raw.Read(func(fd uintptr) bool {
		n, _, err = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}); rerr != nil {
		return false
	}
	// EAGAIN: nothing to read, the connection is open. Anything else — 0 bytes (the peer's
	// FIN), a byte, a reset — makes it unusable.
	return n < 0 && errors.Is(err, syscall.EAGAIN)
}

// begin applies deadline (zero: none) to c and, when ctx can be cancelled, cuts c's I/O short
// once it is.
func (c *conn) begin(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// end finishes an exchange: c goes back to its pool when reusable and its context watch had not
// fired, and is closed otherwise.
func (c *conn) end(reusable bool) {
	if c.stop != nil {
		if !c.stop() {
			reusable = false // the context ended: the deadline in the past is still set
		}
		c.stop = nil
	}
	if reusable {
		// The deadline stays: the next exchange sets its own, and open clears it before a peek.
		c.p.put(c)
		return
	}
	c.close()
}

func (c *conn) close() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if c.nc.Close() == nil {
		c.p.t.closed.Add(1)
	}
}

// exchange writes req and reads the final response's head.
func (c *conn) exchange(req *http.Request) (*http.Response, error) {
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("writing request: %w", err)
	}
	for range max1xxResponses + 1 {
		c.lr.n = c.p.t.maxHeaderBytes() + int64(c.br.Buffered())
		resp, err := http.ReadResponse(c.br, req)
		c.lr.n = -1
		if err != nil {
			if c.lr.hit {
				return nil, errHeaderTooLarge
			}
			return nil, fmt.Errorf("reading response: %w", err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("h1transport: unexpected 101 Switching Protocols")
		}
		if resp.StatusCode >= 200 {
			return resp, nil
		}
		// An informational response (100 Continue unasked, 103 Early Hints): the final one follows.
		if resp.ContentLength > 0 {
			return nil, errors.New("h1transport: informational response with a body")
		}
	}
	return nil, errors.New("h1transport: too many informational responses")
}

// limitReader reads from r, failing once n bytes were read while n ≥ 0, and counts the bytes.
type limitReader struct {
	r        io.Reader
	n        int64
	hit      bool
	received int64
}

func (l *limitReader) Read(b []byte) (int, error) {
	if l.n < 0 {
		n, err := l.r.Read(b)
		l.received += int64(n)
		return n, err
	}
	if l.n == 0 {
		l.hit = true
		return 0, errHeaderTooLarge
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	l.received += int64(n)
	return n, err
}

// body is a response body holding its connection: read to its end, it gives the connection back
// to the pool; closed before that, it closes the connection (as net/http's Transport does).
type body struct {
	rc       io.ReadCloser
	c        *conn
	ctx      context.Context
	deadline time.Time
	reusable bool
	mu       sync.Mutex
	// err is what every Read returns once the body has ended: io.EOF, the error that ended it,
	// or errBodyClosed.
	err error
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.err = io.EOF
		_ = b.rc.Close()
		b.c.end(b.reusable)
	case err != nil:
		b.c.close()
		err = contextError(b.ctx, b.deadline, err)
		b.err = err
	}
	return n, err
}

var errBodyClosed = errors.New("h1transport: read on closed response body")

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	ended := b.err != nil
	b.err = errBodyClosed
	if ended {
		return nil
	}
	// Closed before its end: the rest of the body would have to be read before the next response,
	// so the connection goes (closing it first keeps rc.Close from reading that rest).
	b.c.close()
	_ = b.rc.Close()
	return nil
}
