// Package offsets tracks which records of one partition are done so a dispatcher commits only the
// contiguous completed prefix. Tracker is a pure type: no clock, no I/O, no locking (its owner
// serializes access).
//
// Offsets in a partition are increasing but not always contiguous (compacted topics, transaction
// markers), so a Tracker learns which offsets exist from Add, in fetch order, and then accepts Done
// for them in any order. Its Committable offset is the next offset to consume after a restart:
// the first offset added and not yet done, or one past the last offset added when all are done.
package offsets

import (
	"fmt"
	"sort"
)

// Tracker tracks the records of one partition from a start offset.
type Tracker struct {
	// next is the committable offset when nothing is outstanding: one past the last offset added
	// (or the start offset before any Add).
	next int64
	// window holds the added offsets from the first one not done, in increasing order; done
	// entries in the middle stay until every entry before them is done.
	window []entry
	// outstanding counts the entries of window not done.
	outstanding int
}

type entry struct {
	offset int64
	done   bool
}

// New returns a Tracker for a partition whose consumption starts at start (the committed offset,
// or the resolved start for a partition without one).
func New(start int64) *Tracker {
	return &Tracker{next: start}
}

// Add registers offset as fetched and not yet done. Offsets must be added in increasing order and
// not below the start offset; gaps are allowed.
func (t *Tracker) Add(offset int64) error {
	if offset < t.next {
		return fmt.Errorf("offset %d added out of order: expected %d or above", offset, t.next)
	}
	t.window = append(t.window, entry{offset: offset})
	t.outstanding++
	t.next = offset + 1
	return nil
}

// Skip registers offset as fetched and already complete (a record that needs no work, such as
// one its egress's filter drops): it needs no entry of its own, only moves the next expected
// offset past it, so that once every offset added before it is done the committable offset is
// past it too. Like Add, offsets must come in increasing order and not below the start offset.
func (t *Tracker) Skip(offset int64) error {
	if offset < t.next {
		return fmt.Errorf("offset %d skipped out of order: expected %d or above", offset, t.next)
	}
	t.next = offset + 1
	return nil
}

// Done marks an added offset as completed (delivered, dead-lettered, filtered out). It returns
// an error for an offset that is not outstanding.
func (t *Tracker) Done(offset int64) error {
	i := sort.Search(len(t.window), func(i int) bool { return t.window[i].offset >= offset })
	if i == len(t.window) || t.window[i].offset != offset || t.window[i].done {
		return fmt.Errorf("offset %d is not outstanding", offset)
	}
	t.window[i].done = true
	t.outstanding--
	// Drop the completed prefix. Copy down when the slice's spare front grows large so an
	// ever-running partition does not keep a growing backing array.
	n := 0
	for n < len(t.window) && t.window[n].done {
		n++
	}
	if n > 0 {
		t.window = t.window[n:]
		if len(t.window) == 0 {
			t.window = t.window[:0:0]
		} else if cap(t.window) > 64 && len(t.window) < cap(t.window)/4 {
			t.window = append([]entry(nil), t.window...)
		}
	}
	return nil
}

// Committable is the offset to commit: every added offset below it is done.
func (t *Tracker) Committable() int64 {
	if len(t.window) > 0 {
		return t.window[0].offset
	}
	return t.next
}

// Outstanding is the number of added offsets not yet done.
func (t *Tracker) Outstanding() int { return t.outstanding }

// Next is one past the last offset added, or the start offset before any Add: the offset the
// partition's next record is expected at or above.
func (t *Tracker) Next() int64 { return t.next }
