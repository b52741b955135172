package dispatcher

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordOverhead approximates what a fetched record costs beside its key, value and headers: the
// kgo.Record itself (about 180 bytes on 64-bit platforms) and its place in a lane's queue.
const recordOverhead = 192

// recordBytes is what one fetched record counts for against the memory budget.
func recordBytes(r *kgo.Record) int64 {
	n := int64(recordOverhead + len(r.Key) + len(r.Value))
	for _, h := range r.Headers {
		n += int64(len(h.Key) + len(h.Value) + 48)
	}
	return n
}

// totalBytes is recordBytes summed over recs.
func totalBytes(recs []*kgo.Record) int64 {
	var n int64
	for _, r := range recs {
		n += recordBytes(r)
	}
	return n
}
