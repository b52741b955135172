package ingress

import (
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"knkafka.dev/data-plane/pkg/h1server"
)

// Defaults of the ingress's HTTP server.
const (
	// DefaultMaxConns bounds the connections held open at once (see connLimiter).
	DefaultMaxConns = 4096
	// DefaultMaxHeaderBytes bounds a request's headers: binary-mode attributes travel there, and
	// 64 KiB is eight times what Knative's Kafka broker accepts.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultIdleTimeout closes keep-alive connections idle this long.
	DefaultIdleTimeout = time.Minute
	// DefaultReadHeaderTimeout closes connections that do not send their headers in time.
	DefaultReadHeaderTimeout = 10 * time.Second
)

// Server returns the server the ingress is meant to be served by: bounded headers, header and
// idle timeouts, and at most DefaultMaxConns connections, so thousands of idle or silent
// connections cost bounded memory and never lock out other clients. (The body's timeout and byte
// budget are the handler's own: see BodyTimeout and MaxInFlightBytes.) It is an h1server: the
// plain POSTs producers send are read and answered on each connection's own goroutine, everything
// else is served by net/http.
func (i *Ingress) Server() *h1server.Server {
	return i.server(newConnLimiter(DefaultMaxConns))
}

func (i *Ingress) server(limit *connLimiter) *h1server.Server {
	return &h1server.Server{
		Handler:           i,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ConnState:         limit.track,
		ErrorLog:          zap.NewStdLog(i.logger.Named("http")),
	}
}

// connLimiter keeps the number of open connections at or below max. A connection beyond it first
// evicts the connection that has been idle the longest — a keep-alive connection waiting for its
// next request costs its client nothing to reopen — and is refused (closed) only when none is idle.
// Limiting the listener instead would let a crowd of idle connections block every new client
// until they time out. Silent new connections are bounded by the server's ReadHeaderTimeout.
//
// It holds one entry per open connection and nothing per request: every request on a keep-alive
// connection goes active and idle again, so anything kept per transition would grow with the
// traffic. Finding the longest-idle connection scans the entries, at most max of them, and only
// when a connection comes in over the bound.
type connLimiter struct {
	max int
	mu  sync.Mutex
	// conns maps each open connection to when it went idle, on the seq clock; 0 while it is
	// new or in a request.
	conns map[net.Conn]uint64
	seq   uint64
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, conns: map[net.Conn]uint64{}}
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, state http.ConnState) {
	var evict net.Conn
	l.mu.Lock()
	switch state {
	case http.StateNew:
		l.conns[c] = 0
		if len(l.conns) > l.max {
			evict = l.oldestIdle()
			if evict == nil {
				evict = c
			}
		}
	case http.StateActive:
		l.conns[c] = 0
	case http.StateIdle:
		l.seq++
		l.conns[c] = l.seq
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	}
	l.mu.Unlock()
	if evict != nil {
		_ = evict.Close()
	}
}

// oldestIdle returns the connection that has been idle the longest, marked as no longer idle so it
// is not chosen twice while it closes; nil when none is idle. The caller holds mu.
func (l *connLimiter) oldestIdle() net.Conn {
	var (
		oldest net.Conn
		since  uint64
	)
	for c, idle := range l.conns {
		if idle != 0 && (oldest == nil || idle < since) {
			oldest, since = c, idle
		}
	}
	if oldest != nil {
		l.conns[oldest] = 0
	}
	return oldest
}
