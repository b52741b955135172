package ingress

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// budget is a shared allowance (bytes, requests) that requests take from and give back. It never
// waits: a request that cannot take what it needs is turned away at once, so a crowd of slow or
// hostile clients costs the ingress a bounded amount of memory and never queues the others.
type budget struct {
	limit int64
	used  atomic.Int64
}

// take takes n and reports whether it fit under the limit.
func (b *budget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n taken earlier.
func (b *budget) give(n int64) { b.used.Add(-n) }

// Body reading outcomes the handler maps to response codes.
var (
	errBodyTooLarge = errors.New("request body too large")
	errBodyBudget   = errors.New("ingress is holding as many request bytes as it may")
	errBodyTimeout  = errors.New("request body was not received in time")
)

// firstChunk is the buffer a body starts with; it doubles as bytes arrive.
const firstChunk = 32 << 10

// readBody reads r's body into memory, at most limit bytes, before deadline. The buffer grows
// only as bytes arrive (doubling, capped by the announced length when there is one), and every
// growth is taken from bodies first; held reports what was taken, for the caller to give back
// once the request is done with the body.
//
// The accounting follows the buffer's capacity. The smaller buffers a growth leaves behind are
// garbage not counted here; they are at most as large as the final buffer.
func readBody(r *http.Request, w http.ResponseWriter, bodies *budget, limit int64, deadline time.Time) (body []byte, held int64, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0, nil
	}
	// Not supported by every ResponseWriter (httptest's recorder): the server's timeouts remain.
	_ = http.NewResponseController(w).SetReadDeadline(deadline)
	buf := make([]byte, 0)
	for {
		if len(buf) == cap(buf) {
			size := nextSize(int64(cap(buf)), r.ContentLength, limit)
			if !bodies.take(size - int64(cap(buf))) {
				return nil, held, errBodyBudget
			}
			held = size
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			buf = grown
		}
		n, rerr := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, held, errBodyTooLarge
		}
		switch {
		case rerr == io.EOF:
			return buf, held, nil
		case errors.Is(rerr, os.ErrDeadlineExceeded), errors.Is(rerr, context.DeadlineExceeded):
			return nil, held, errBodyTimeout
		case rerr != nil:
			return nil, held, rerr
		}
	}
}

// nextSize is the capacity after cur: double it (from firstChunk), but no more than the announced
// length (when known) and no more than one byte over limit (enough to tell a body over the limit).
func nextSize(cur, announced, limit int64) int64 {
	size := max(2*cur, firstChunk)
	if announced >= 0 && announced+1 > cur {
		// One byte more than announced lets the read see EOF without another growth.
		size = min(size, announced+1)
	}
	return min(size, limit+1)
}
