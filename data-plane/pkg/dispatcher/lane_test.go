package dispatcher

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
)

// fakeUpstream records what a lane asks of its source.
type fakeUpstream struct {
	mu      sync.Mutex
	commits []map[string]map[int32]int64
	paused  map[int32]int
	resumed map[int32]int
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{paused: map[int32]int{}, resumed: map[int32]int{}}
}

func (f *fakeUpstream) commit(_ context.Context, offs map[string]map[int32]int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commits = append(f.commits, offs)
	return nil
}
func (f *fakeUpstream) pause(_ string, p int32)  { f.mu.Lock(); f.paused[p]++; f.mu.Unlock() }
func (f *fakeUpstream) resume(_ string, p int32) { f.mu.Lock(); f.resumed[p]++; f.mu.Unlock() }

// last returns the last committed offset of partition p and how many commits named it.
func (f *fakeUpstream) last(p int32) (int64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off, n := int64(-1), 0
	for _, c := range f.commits {
		if o, ok := c["t"][p]; ok {
			off, n = o, n+1
		}
	}
	return off, n
}

// fakeProcessor completes records unless block says to hold them until release or ctx ends.
type fakeProcessor struct {
	block   func(offset int64) bool
	release chan struct{}
	mu      sync.Mutex
	started []int64
}

func (f *fakeProcessor) process(ctx context.Context, r *kgo.Record) bool {
	f.mu.Lock()
	f.started = append(f.started, r.Offset)
	f.mu.Unlock()
	if f.block != nil && f.block(r.Offset) {
		select {
		case <-f.release:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (f *fakeProcessor) startedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

func newTestLane(t *testing.T, order contract.DeliveryOrder, proc recordProcessor, up upstream, cfg config) *lane {
	m := newMetrics(prometheus.NewRegistry()).forEgress("test/lane")
	l := newLane(zaptest.NewLogger(t), order, proc, up, m, &cfg, 0, nil)
	t.Cleanup(func() { l.close(context.Background()) })
	return l
}

func records(from, to int64) []*kgo.Record {
	var rs []*kgo.Record
	for o := from; o < to; o++ {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: 0, Offset: o})
	}
	return rs
}

func TestLanePausesAFullPartitionAndResumesWhenItDrains(t *testing.T) {
	up := newFakeUpstream()
	proc := &fakeProcessor{block: func(int64) bool { return true }, release: make(chan struct{})}
	cfg := defaultConfig()
	cfg.maxBuffered = 4
	cfg.commitInterval = 10 * time.Millisecond
	l := newTestLane(t, contract.Ordered, proc, up, cfg)
	l.assign([]partitionStart{{topic: "t", partition: 0, offset: 0}})
	l.push("t", 0, records(0, 3), 3)
	up.mu.Lock()
	early := up.paused[0]
	up.mu.Unlock()
	if early != 0 {
		t.Fatal("paused below the buffer limit")
	}
	l.push("t", 0, records(3, 6), 6)
	up.mu.Lock()
	paused := up.paused[0]
	up.mu.Unlock()
	if paused != 1 {
		t.Fatalf("paused %d times at the buffer limit, want 1", paused)
	}
	close(proc.release)
	eventually(t, "resumed and committed", func() bool {
		off, _ := up.last(0)
		up.mu.Lock()
		defer up.mu.Unlock()
		return up.resumed[0] == 1 && off == 6
	})
}

func TestLaneRevokeCommitsTheCompletedPrefixOnceAndNeverAgain(t *testing.T) {
	up := newFakeUpstream()
	proc := &fakeProcessor{block: func(o int64) bool { return o == 12 }, release: make(chan struct{})}
	cfg := defaultConfig()
	cfg.commitInterval = 10 * time.Millisecond
	cfg.drainTimeout = 20 * time.Millisecond
	l := newTestLane(t, contract.Unordered, proc, up, cfg)
	l.assign([]partitionStart{{topic: "t", partition: 0, offset: 10}, {topic: "t", partition: 1, offset: 0}})
	l.push("t", 0, records(10, 16), 16)
	eventually(t, "all started", func() bool { return proc.startedCount() == 6 })

	// Offset 12 never completes: the drain timeout cancels it and the revoke commits 12.
	l.revoke(context.Background(), map[string][]int32{"t": {0}}, false)
	off, n := up.last(0)
	if off != 12 {
		t.Fatalf("committed %d on revoke, want 12", off)
	}
	// Nothing about partition 0 is committed again, even with records pushed late.
	l.push("t", 0, records(16, 18), 18)
	l.push("t", 1, []*kgo.Record{{Topic: "t", Partition: 1, Offset: 0}}, 1)
	eventually(t, "partition 1 committed", func() bool { o, _ := up.last(1); return o == 1 })
	if off2, n2 := up.last(0); off2 != off || n2 != n {
		t.Fatalf("partition 0 committed again after revoke: %d (%d commits), had %d (%d)", off2, n2, off, n)
	}
}

func TestLaneLostPartitionIsNotCommitted(t *testing.T) {
	up := newFakeUpstream()
	proc := &fakeProcessor{block: func(o int64) bool { return o == 1 }, release: make(chan struct{})}
	cfg := defaultConfig()
	cfg.commitInterval = time.Hour
	l := newTestLane(t, contract.Ordered, proc, up, cfg)
	l.assign([]partitionStart{{topic: "t", partition: 0, offset: 0}})
	l.push("t", 0, records(0, 3), 3)
	eventually(t, "blocked at 1", func() bool { return proc.startedCount() == 2 })
	l.revoke(context.Background(), map[string][]int32{"t": {0}}, true)
	if _, n := up.last(0); n != 0 {
		t.Fatalf("a lost partition was committed %d times", n)
	}
}

func TestLaneCommitsUnsettledStartsAtOnce(t *testing.T) {
	up := newFakeUpstream()
	cfg := defaultConfig()
	cfg.commitInterval = time.Hour
	l := newTestLane(t, contract.Unordered, &fakeProcessor{}, up, cfg)
	l.assign([]partitionStart{{topic: "t", partition: 0, offset: 42, unsettled: true}, {topic: "t", partition: 1, offset: 7}})
	eventually(t, "start committed", func() bool { return l.unsettled() == 0 })
	up.mu.Lock()
	defer up.mu.Unlock()
	if diff := cmp.Diff([]map[string]map[int32]int64{{"t": {0: 42}}}, up.commits); diff != "" {
		t.Fatalf("commits (-want +got):\n%s", diff)
	}
}
