package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Sink is the subscriber of every scenario: it answers 202 and counts what arrives in the current
// phase — distinct events and duplicates by id, arrivals per egress path ("/e/<i>"), the first and
// last arrival, and the end-to-end latency of events carrying the send-time extension.
type Sink struct {
	URL   string
	srv   *http.Server
	phase atomic.Pointer[phase]
}

// phase holds one measurement's counters; Reset swaps in a fresh one.
type phase struct {
	prefix    string
	counts    []atomic.Uint32
	unique    atomic.Int64
	total     atomic.Int64
	stray     atomic.Int64
	first     atomic.Int64 // unix nanos
	last      atomic.Int64
	lat       []int64 // nanoseconds; filled up to latN
	latN      atomic.Int64
	pathCount []atomic.Int64
	pathFirst []atomic.Int64
}

// newSink serves on a free 127.0.0.1 port until ctx ends.
func newSink(ctx context.Context) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{URL: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the run notices through missing arrivals
		}
	}()
	go func() {
		<-ctx.Done()
		_ = s.srv.Close()
	}()
	s.Reset("", 0, 0)
	return s, nil
}

// Reset starts a phase: events with ids "<prefix>-0" .. "<prefix>-(n-1)" are counted, arrivals
// on "/e/0" .. "/e/(paths-1)" are counted per path.
func (s *Sink) Reset(prefix string, n, paths int) {
	ph := &phase{prefix: prefix, counts: make([]atomic.Uint32, n), lat: make([]int64, n+n/2),
		pathCount: make([]atomic.Int64, paths), pathFirst: make([]atomic.Int64, paths)}
	s.phase.Store(ph)
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now().UnixNano()
	w.WriteHeader(http.StatusAccepted)
	ph := s.phase.Load()
	if ph == nil {
		return
	}
	if len(ph.pathCount) > 0 {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/e/"); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < len(ph.pathCount) {
				ph.pathCount[i].Add(1)
				ph.pathFirst[i].CompareAndSwap(0, now)
			}
		}
	}
	prefix, seq, ok := parseID(r.Header.Get("Ce-Id"))
	if !ok || prefix != ph.prefix || seq < 0 || seq >= len(ph.counts) {
		ph.stray.Add(1)
		return
	}
	ph.total.Add(1)
	if ph.counts[seq].Add(1) == 1 {
		ph.unique.Add(1)
	}
	ph.first.CompareAndSwap(0, now)
	for {
		l := ph.last.Load()
		if now <= l || ph.last.CompareAndSwap(l, now) {
			break
		}
	}
	if sent := r.Header.Get(sentHeader); sent != "" {
		if ns, err := strconv.ParseInt(sent, 10, 64); err == nil {
			if i := ph.latN.Add(1) - 1; i < int64(len(ph.lat)) {
				ph.lat[i] = now - ns
			}
		}
	}
}

// SinkStats is a snapshot of the current phase.
type SinkStats struct {
	Unique, Total, Stray int64
	First, Last          time.Time
}

// Stats snapshots the current phase.
func (s *Sink) Stats() SinkStats {
	ph := s.phase.Load()
	st := SinkStats{Unique: ph.unique.Load(), Total: ph.total.Load(), Stray: ph.stray.Load()}
	if f := ph.first.Load(); f != 0 {
		st.First = time.Unix(0, f)
	}
	if l := ph.last.Load(); l != 0 {
		st.Last = time.Unix(0, l)
	}
	return st
}

// Latencies returns the end-to-end latencies recorded in the current phase.
func (s *Sink) Latencies() []time.Duration {
	ph := s.phase.Load()
	n := min(ph.latN.Load(), int64(len(ph.lat)))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(ph.lat[i])
	}
	return out
}

// PathFirst returns the first arrival on "/e/<i>", or the zero time.
func (s *Sink) PathFirst(i int) time.Time {
	ph := s.phase.Load()
	if i >= len(ph.pathFirst) {
		return time.Time{}
	}
	if f := ph.pathFirst[i].Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Time{}
}

// PathCount returns the arrivals on "/e/<i>".
func (s *Sink) PathCount(i int) int64 {
	ph := s.phase.Load()
	if i >= len(ph.pathCount) {
		return 0
	}
	return ph.pathCount[i].Load()
}

// PathTotal sums arrivals over all paths.
func (s *Sink) PathTotal() int64 {
	ph := s.phase.Load()
	var n int64
	for i := range ph.pathCount {
		n += ph.pathCount[i].Load()
	}
	return n
}

// waitFor polls until cond holds, ctx ends, or no progress (as progress reports it) was seen for
// stall. It returns whether cond held.
func waitFor(ctx context.Context, within, stall time.Duration, cond func() bool, progress func() int64) bool {
	deadline := time.Now().Add(within)
	last, lastChange := progress(), time.Now()
	for {
		if cond() {
			return true
		}
		if p := progress(); p != last {
			last, lastChange = p, time.Now()
		}
		if time.Now().After(deadline) || (stall > 0 && time.Since(lastChange) > stall) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}
