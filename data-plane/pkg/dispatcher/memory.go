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

// detach returns a copy of r that shares no memory with the fetch it came from. franz-go keeps
// the records of one fetched partition in one slab, each pointing into its batch's decompressed
// buffer, so a single record kept alive keeps the whole fetch: measured with 200 lagging Triggers,
// records the budget counted at 64 MiB held 680 MiB. A detached record holds what recordBytes
// counts, and the fetch is garbage once its last record is admitted.
func detach(r *kgo.Record) *kgo.Record {
	c := new(kgo.Record)
	detachInto(c, r)
	return c
}

// detachInto makes c a copy of r that shares no memory with r's fetch (see detach).
func detachInto(c, r *kgo.Record) {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Value)
	}
	buf := make([]byte, 0, n)
	*c = *r
	c.Key, buf = carve(buf, r.Key)
	c.Value, buf = carve(buf, r.Value)
	if r.Headers != nil {
		c.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i].Key = h.Key
			c.Headers[i].Value, buf = carve(buf, h.Value)
		}
	}
}

// carve appends b to buf and returns the copy (nil for nil, so a null key stays null) and buf.
func carve(buf, b []byte) ([]byte, []byte) {
	if b == nil {
		return nil, buf
	}
	start := len(buf)
	buf = append(buf, b...)
	return buf[start:len(buf):len(buf)], buf
}
