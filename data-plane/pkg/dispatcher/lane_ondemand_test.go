package dispatcher

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"
	"golang.org/x/time/rate"

	"knkafka.dev/control-plane/pkg/contract"
)

// runningWorkers counts the partitions of l whose worker runs.
func runningWorkers(l *lane) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.parts {
		p.mu.Lock()
		if p.running {
			n++
		}
		p.mu.Unlock()
	}
	return n
}

// TestLaneWorkerRunsOnlyWhileRecordsAreQueued checks that a partition's worker starts when records
// are pushed, exits once its queue is empty, and starts again on the next push, in order.
func TestLaneWorkerRunsOnlyWhileRecordsAreQueued(t *testing.T) {
	up := newFakeUpstream()
	proc := &fakeProcessor{block: func(o int64) bool { return o == 1 }, release: make(chan struct{})}
	cfg := defaultConfig()
	cfg.commitInterval = 10 * time.Millisecond
	l := newTestLane(t, contract.Ordered, proc, up, cfg)
	var starts []partitionStart
	for p := range int32(20) {
		starts = append(starts, partitionStart{topic: "t", partition: p, offset: 0})
	}
	l.assign(starts)
	if n := runningWorkers(l); n != 0 {
		t.Fatalf("%d workers run with nothing pushed, want 0", n)
	}
	l.push("t", 0, records(0, 3), 3)
	eventually(t, "blocked at offset 1", func() bool { return proc.startedCount() == 2 })
	if n := runningWorkers(l); n != 1 {
		t.Fatalf("%d workers run with one partition delivering, want 1", n)
	}
	close(proc.release)
	eventually(t, "the worker exits once its queue is empty", func() bool { return runningWorkers(l) == 0 })
	eventually(t, "committed 3", func() bool { o, _ := up.last(0); return o == 3 })
	l.push("t", 0, records(3, 5), 5)
	eventually(t, "the worker starts again and delivers", func() bool { o, _ := up.last(0); return o == 5 })
	proc.mu.Lock()
	defer proc.mu.Unlock()
	for i, o := range proc.started {
		if o != int64(i) {
			t.Fatalf("delivered in the order %v, want 0..4", proc.started)
		}
	}
}

// TestLanesHoldNoGoroutinePerPartition assigns 10 lanes 100 partitions each and checks that the
// process's goroutines do not grow with them: no worker per partition and no commit loop per lane
// while nothing is pushed.
func TestLanesHoldNoGoroutinePerPartition(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := defaultConfig()
	m := newMetrics(prometheus.NewRegistry())
	var lanes []*lane
	for range 10 {
		l := newLane(zaptest.NewLogger(t), contract.Unordered, &fakeProcessor{}, newFakeUpstream(), m.forEgress("test/lane"), &cfg, 0, nil)
		var starts []partitionStart
		for p := range int32(100) {
			starts = append(starts, partitionStart{topic: "t", partition: p, offset: 0})
		}
		l.assign(starts)
		lanes = append(lanes, l)
	}
	after := runtime.NumGoroutine()
	for _, l := range lanes {
		l.close(context.Background())
	}
	// A few goroutines of the runtime or an earlier test may come and go; 1,000 partitions and 10
	// lanes must not show.
	if after-before >= 10 {
		t.Fatalf("goroutines grew from %d to %d with 10 lanes of 100 idle partitions", before, after)
	}
}

// screeningProcessor is a fakeProcessor whose screen drops the offsets drop names.
type screeningProcessor struct {
	fakeProcessor
	drop func(offset int64) bool
}

func (s *screeningProcessor) screen(r *kgo.Record) bool { return !s.drop(r.Offset) }

// TestLaneFilteredRecordsAdvanceCommitsInOrder checks that records the screen drops are never
// processed, that the commit does not pass a record still in flight before them, and that it
// moves past them — also when the last record pushed is one of them.
func TestLaneFilteredRecordsAdvanceCommitsInOrder(t *testing.T) {
	up := newFakeUpstream()
	proc := &screeningProcessor{
		fakeProcessor: fakeProcessor{block: func(o int64) bool { return o == 2 }, release: make(chan struct{})},
		drop:          func(o int64) bool { return o%2 == 1 },
	}
	cfg := defaultConfig()
	cfg.commitInterval = 10 * time.Millisecond
	l := newTestLane(t, contract.Ordered, proc, up, cfg)
	l.assign([]partitionStart{{topic: "t", partition: 0, offset: 0}})
	l.push("t", 0, records(0, 8), 8) // 1, 3, 5 and 7 are dropped
	eventually(t, "blocked at offset 2", func() bool { return proc.startedCount() == 2 })
	eventually(t, "committed up to the record in flight", func() bool { o, _ := up.last(0); return o == 2 })
	close(proc.release)
	eventually(t, "committed past the dropped last record", func() bool { o, _ := up.last(0); return o == 8 })
	proc.mu.Lock()
	defer proc.mu.Unlock()
	if want := []int64{0, 2, 4, 6}; len(proc.started) != len(want) || proc.started[0] != 0 || proc.started[1] != 2 || proc.started[2] != 4 || proc.started[3] != 6 {
		t.Fatalf("processed %v, want %v", proc.started, want)
	}
	// Every commit is the offset of a record not done yet (never one the screen dropped) or the
	// end, and they only move forward.
	prev := int64(-1)
	for _, c := range up.commits {
		o, ok := c["t"][0]
		if !ok {
			continue
		}
		if o%2 == 1 || o > 8 || o < prev {
			t.Fatalf("commits %v: %d is not the offset of a pending record or the end, or goes back", up.commits, o)
		}
		prev = o
	}
}

// TestLaneCommitRateHoldsPeriodicCommitsButNotStartsOrRevocations gives three lanes a commit
// rate with one request of room and none after: one periodic commit goes through and the others
// wait their turn, while the start offsets readiness waits for and the final commits of close go
// through at once.
func TestLaneCommitRateHoldsPeriodicCommitsButNotStartsOrRevocations(t *testing.T) {
	cfg := defaultConfig()
	cfg.commitInterval = 5 * time.Millisecond
	cfg.commitPace = rate.NewLimiter(rate.Every(time.Hour), 1)
	m := newMetrics(prometheus.NewRegistry())
	var ups []*fakeUpstream
	var lanes []*lane
	for range 3 {
		up := newFakeUpstream()
		l := newLane(zaptest.NewLogger(t), contract.Unordered, &fakeProcessor{}, up, m.forEgress("test/lane"), &cfg, 0, nil)
		l.assign([]partitionStart{{topic: "t", partition: 0, offset: 0, unsettled: true}})
		ups, lanes = append(ups, up), append(lanes, l)
	}
	for _, l := range lanes {
		eventually(t, "start offsets committed despite the spent rate", func() bool { return l.unsettled() == 0 })
	}
	for _, l := range lanes {
		l.push("t", 0, records(0, 4), 4)
	}
	eventually(t, "one periodic commit", func() bool {
		n := 0
		for _, up := range ups {
			if o, _ := up.last(0); o == 4 {
				n++
			}
		}
		return n == 1
	})
	waiting := 0
	for _, up := range ups {
		if o, _ := up.last(0); o == 0 {
			waiting++
		}
	}
	if waiting != 2 {
		t.Fatalf("%d lanes wait for their turn, want 2", waiting)
	}
	for _, l := range lanes {
		l.close(context.Background())
	}
	for i, up := range ups {
		if o, _ := up.last(0); o != 4 {
			t.Fatalf("lane %d: close committed %d, want 4", i, o)
		}
	}
}
