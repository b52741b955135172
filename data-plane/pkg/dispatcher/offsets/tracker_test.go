package offsets

import (
	"sort"
	"testing"
)

// op is one step of a table test: add or mark done an offset, then expect Committable.
type op struct {
	add, done   bool
	skip        bool
	offset      int64
	wantErr     bool
	committable int64
}

func add(o, c int64) op     { return op{add: true, offset: o, committable: c} }
func done(o, c int64) op    { return op{done: true, offset: o, committable: c} }
func badAdd(o, c int64) op  { return op{add: true, offset: o, committable: c, wantErr: true} }
func badDone(o, c int64) op { return op{done: true, offset: o, committable: c, wantErr: true} }
func skip(o, c int64) op    { return op{skip: true, offset: o, committable: c} }
func badSkip(o, c int64) op { return op{skip: true, offset: o, committable: c, wantErr: true} }

func TestTracker(t *testing.T) {
	tests := []struct {
		name  string
		start int64
		ops   []op
	}{
		{name: "nothing added commits the start", start: 7, ops: nil},
		{name: "in order completion advances one by one", start: 0, ops: []op{
			add(0, 0), add(1, 0), add(2, 0), done(0, 1), done(1, 2), done(2, 3),
		}},
		{name: "out of order completion waits for the gap", start: 10, ops: []op{
			add(10, 10), add(11, 10), add(12, 10), done(12, 10), done(11, 10), done(10, 13),
		}},
		{name: "gaps in offsets are skipped", start: 0, ops: []op{
			add(0, 0), add(5, 0), add(9, 0), done(5, 0), done(0, 9), done(9, 10),
		}},
		{name: "start above zero with first record later", start: 3, ops: []op{
			add(8, 8), done(8, 9),
		}},
		{name: "adding below the next offset fails", start: 5, ops: []op{
			badAdd(4, 5), add(5, 5), badAdd(5, 5),
		}},
		{name: "done twice fails", start: 0, ops: []op{
			add(0, 0), add(1, 0), done(1, 0), badDone(1, 0), done(0, 2), badDone(0, 2),
		}},
		{name: "done for an offset never added fails", start: 0, ops: []op{
			add(0, 0), add(2, 0), badDone(1, 0), badDone(3, 0),
		}},
		{name: "a skipped offset alone is committable past", start: 4, ops: []op{
			skip(4, 5), skip(7, 8),
		}},
		{name: "skipped offsets wait for an outstanding one before them", start: 0, ops: []op{
			add(0, 0), skip(1, 0), skip(2, 0), add(3, 0), skip(4, 0), done(0, 3), done(3, 5),
		}},
		{name: "skipped offsets after the last outstanding one", start: 0, ops: []op{
			add(0, 0), skip(1, 0), skip(2, 0), done(0, 3), add(5, 5), skip(6, 5), done(5, 7),
		}},
		{name: "skipping below the next offset fails", start: 5, ops: []op{
			badSkip(4, 5), add(5, 5), badSkip(5, 5), skip(6, 5),
		}},
		{name: "interleaved adds and dones", start: 0, ops: []op{
			add(0, 0), add(1, 0), done(1, 0), add(2, 0), done(0, 2), add(3, 2), done(3, 2), done(2, 4),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(tt.start)
			if got := tr.Committable(); got != tt.start {
				t.Fatalf("Committable() at start = %d, want %d", got, tt.start)
			}
			for i, o := range tt.ops {
				var err error
				switch {
				case o.add:
					err = tr.Add(o.offset)
				case o.skip:
					err = tr.Skip(o.offset)
				default:
					err = tr.Done(o.offset)
				}
				if (err != nil) != o.wantErr {
					t.Fatalf("step %d (%+v): err = %v, wantErr %v", i, o, err, o.wantErr)
				}
				if got := tr.Committable(); got != o.committable {
					t.Fatalf("step %d (%+v): Committable() = %d, want %d", i, o, got, o.committable)
				}
			}
		})
	}
}

func TestTrackerLongRunCompacts(t *testing.T) {
	tr := New(0)
	const n = 10000
	for o := int64(0); o < n; o++ {
		if err := tr.Add(o); err != nil {
			t.Fatal(err)
		}
		// Complete every other offset ten behind, leaving holes that hold the prefix back.
		if o >= 10 && (o-10)%2 == 0 {
			if err := tr.Done(o - 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := tr.Committable(); got != 1 {
		t.Fatalf("Committable() with offset 1 outstanding = %d, want 1", got)
	}
	for o := int64(1); o < n; o += 2 {
		if err := tr.Done(o); err != nil {
			t.Fatal(err)
		}
	}
	for o := int64(n - 10); o < n; o += 2 {
		if err := tr.Done(o); err != nil {
			t.Fatal(err)
		}
	}
	if got := tr.Committable(); got != n {
		t.Fatalf("Committable() = %d, want %d", got, n)
	}
	if tr.Outstanding() != 0 {
		t.Fatalf("Outstanding() = %d, want 0", tr.Outstanding())
	}
}

// model is the naive tracker: sets of added and done offsets.
type model struct {
	start int64
	added map[int64]bool // value: done
	last  int64
	any   bool
}

func (m *model) add(o int64) bool {
	next := m.start
	if m.any {
		next = m.last + 1
	}
	if o < next {
		return false
	}
	m.added[o] = false
	m.last, m.any = o, true
	return true
}

func (m *model) done(o int64) bool {
	d, ok := m.added[o]
	if !ok || d {
		return false
	}
	m.added[o] = true
	return true
}

func (m *model) committable() int64 {
	var pending []int64
	for o, d := range m.added {
		if !d {
			pending = append(pending, o)
		}
	}
	if len(pending) > 0 {
		sort.Slice(pending, func(i, j int) bool { return pending[i] < pending[j] })
		return pending[0]
	}
	if m.any {
		return m.last + 1
	}
	return m.start
}

// FuzzTracker drives a Tracker and the naive model with the same operations: each input byte
// either adds the next offset after a gap (high bit clear; low bits the gap) or marks one of the
// added offsets done (high bit set; low bits pick which).
func FuzzTracker(f *testing.F) {
	f.Add(int64(0), []byte{0, 0, 0, 0x80, 0x82, 0x81})
	f.Add(int64(100), []byte{3, 1, 0x81, 0x80, 0x80, 2, 0x83})
	f.Add(int64(5), []byte{0x80, 0, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, start int64, ops []byte) {
		if start < 0 || start > 1<<40 {
			return
		}
		tr := New(start)
		m := &model{start: start, added: map[int64]bool{}}
		var addedOrder []int64
		next := start
		for i, b := range ops {
			if b&0x80 == 0 {
				o := next + int64(b&0x7)
				errT := tr.Add(o)
				okM := m.add(o)
				if (errT == nil) != okM {
					t.Fatalf("step %d: Add(%d) err=%v, model ok=%v", i, o, errT, okM)
				}
				addedOrder = append(addedOrder, o)
				next = o + 1
				// Also try an invalid add below next now and then.
				if b&0x40 != 0 {
					if err := tr.Add(o); err == nil {
						t.Fatalf("step %d: re-Add(%d) succeeded", i, o)
					}
				}
			} else if len(addedOrder) > 0 {
				o := addedOrder[int(b&0x7f)%len(addedOrder)]
				errT := tr.Done(o)
				okM := m.done(o)
				if (errT == nil) != okM {
					t.Fatalf("step %d: Done(%d) err=%v, model ok=%v", i, o, errT, okM)
				}
			}
			if got, want := tr.Committable(), m.committable(); got != want {
				t.Fatalf("step %d: Committable() = %d, model says %d", i, got, want)
			}
			pending := 0
			for _, d := range m.added {
				if !d {
					pending++
				}
			}
			if tr.Outstanding() != pending {
				t.Fatalf("step %d: Outstanding() = %d, model says %d", i, tr.Outstanding(), pending)
			}
		}
	})
}
