package ingress

import (
	"net"
	"net/http"
	"sync"
	"time"
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

// HTTPServer returns the server the ingress is meant to be served by: bounded headers, header and
// idle timeouts, and at most DefaultMaxConns connections, so thousands of idle or silent
// connections cost bounded memory and never lock out other clients. (The body's timeout and byte
// budget are the handler's own: see BodyTimeout and MaxInFlightBytes.)
func (i *Ingress) HTTPServer() *http.Server {
	limit := newConnLimiter(DefaultMaxConns)
	return &http.Server{
		Handler:           i,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ConnState:         limit.track,
	}
}

// connLimiter keeps the number of open connections at or below max. A connection beyond it first
// evicts the connection that has been idle the longest — a keep-alive connection waiting for its
// next request costs its client nothing to reopen — and is refused (closed) only when none is idle.
// Limiting the listener instead would let a crowd of idle connections block every new client
// until they time out. Silent new connections are bounded by the server's ReadHeaderTimeout.
type connLimiter struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]bool // true while idle
	idle  []net.Conn        // idle connections, oldest first (may hold stale entries)
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, conns: map[net.Conn]bool{}}
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, state http.ConnState) {
	var evict net.Conn
	l.mu.Lock()
	switch state {
	case http.StateNew:
		l.conns[c] = false
		if len(l.conns) > l.max {
			evict = l.oldestIdle()
			if evict == nil {
				evict = c
			}
		}
	case http.StateActive:
		l.conns[c] = false
	case http.StateIdle:
		l.conns[c] = true
		l.idle = append(l.idle, c)
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	}
	l.mu.Unlock()
	if evict != nil {
		_ = evict.Close()
	}
}

// oldestIdle pops the idle connection that went idle first, skipping entries that are no longer
// idle (they became active or closed since); nil when none is idle. The caller holds mu.
func (l *connLimiter) oldestIdle() net.Conn {
	for len(l.idle) > 0 {
		c := l.idle[0]
		l.idle = l.idle[1:]
		if idle, open := l.conns[c]; open && idle {
			l.conns[c] = false // being closed: not a candidate twice
			return c
		}
	}
	return nil
}
