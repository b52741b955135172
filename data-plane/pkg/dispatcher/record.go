package dispatcher

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/delivery"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
)

// sharedRecord is a record fetched once and handed to every lane that wants it. It is a copy
// that shares no memory with franz-go's fetch (see detach), charged once to the account of the
// reader that fetched it; refs counts its holders (the reader while it hands the record on, and
// each lane it was handed to), and the last one to let go gives the bytes back. The CloudEvent in
// it is decoded at most once, by the first lane that needs it, and then only read: filters and
// deliveries of every lane share it (delivery clones it before adding dead-letter extensions), and
// so do their requests to subscribers, encoded once too.
//
// Lanes see only rec; sharedOf finds the sharedRecord behind it through rec.Context, which
// franz-go leaves unset on fetched records.
type sharedRecord struct {
	rec  kgo.Record
	ctx  recordContext
	refs atomic.Int32
	size int64
	acct *membudget.Account

	decodeOnce sync.Once
	ev         *event.Event
	err        error

	encodeOnce sync.Once
	enc        *delivery.Encoded
}

// recordContext is the Context of a sharedRecord's rec: nothing but a way back to it.
type recordContext struct {
	context.Context
	sr *sharedRecord
}

// newSharedRecord copies r into a sharedRecord holding one reference (the caller's), charged at
// size bytes to acct.
func newSharedRecord(r *kgo.Record, size int64, acct *membudget.Account) *sharedRecord {
	sr := &sharedRecord{size: size, acct: acct}
	detachInto(&sr.rec, r)
	sr.ctx = recordContext{Context: context.Background(), sr: sr}
	sr.rec.Context = &sr.ctx
	sr.refs.Store(1)
	return sr
}

// sharedOf returns the sharedRecord behind r, or nil for a record a lane owns alone.
func sharedOf(r *kgo.Record) *sharedRecord {
	if c, ok := r.Context.(*recordContext); ok {
		return c.sr
	}
	return nil
}

// ref adds a holder.
func (sr *sharedRecord) ref() { sr.refs.Add(1) }

// unref drops a holder; the last one gives the record's bytes back to the budget.
func (sr *sharedRecord) unref() {
	if sr.refs.Add(-1) == 0 {
		sr.acct.Release(sr.size)
	}
}

// event decodes the record's CloudEvent the first time any lane asks, and returns the same event
// (or error) to every lane after that.
func (sr *sharedRecord) event() (*event.Event, error) {
	sr.decodeOnce.Do(func() { sr.ev, sr.err = cekafka.Decode(&sr.rec) })
	return sr.ev, sr.err
}

// encoded encodes the record's event for subscribers the first time a lane delivers it, with the
// lane's namespace and the record's trace headers, and returns that encoding to every lane after
// it; nil when the event cannot be encoded (each lane's own delivery then reports why).
func (sr *sharedRecord) encoded(e *event.Event, namespace string) *delivery.Encoded {
	sr.encodeOnce.Do(func() { sr.enc, _ = delivery.Encode(e, namespace, traceHeader(&sr.rec)) })
	return sr.enc
}
