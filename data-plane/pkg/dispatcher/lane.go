package dispatcher

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
	"knkafka.dev/data-plane/pkg/dispatcher/offsets"
)

// A source and a lane talk through two small interfaces, so that a lane does not care whether its
// records come from its own consumer group client (groupSource, today) or from a reader shared by
// many lanes (the shared-reads plan of docs/DESIGN.md §3):
//
//   - partitionSink is the lane as a source sees it: which partitions the egress now owns and from
//     which offset, their records in offset order, and which partitions it lost.
//   - upstream is the source as a lane sees it: commit offsets under the egress's consumer group,
//     and pause or resume fetching a partition whose buffer is full.

// partitionSink receives the records of the partitions assigned to one egress.
type partitionSink interface {
	// assign hands over partitions with the offset consumption starts at. unsettled partitions
	// have no committed offset yet: their start was resolved (the end of the partition) and the
	// lane commits it at once, so that a restart or another replica starts there too.
	assign(starts []partitionStart)
	// push hands over records of one assigned partition, in offset order, with the partition's
	// high watermark. It never blocks; the lane pauses the partition when its buffer is full.
	push(topic string, partition int32, recs []*kgo.Record, highWatermark int64)
	// revoke takes partitions away: the lane stops their work, gives in-flight deliveries the
	// drain timeout, and — unless lost — commits what is complete before it returns. It never
	// commits those partitions again.
	revoke(ctx context.Context, tps map[string][]int32, lost bool)
}

// upstream is what a lane needs from its source.
type upstream interface {
	// commit commits offsets (the next offset to consume) under the egress's consumer group.
	commit(ctx context.Context, offsets map[string]map[int32]int64) error
	pause(topic string, partition int32)
	resume(topic string, partition int32)
}

// recordProcessor handles one record and reports whether its offset may be committed (false
// only when ctx ended the work); *processor is the real one.
type recordProcessor interface {
	process(ctx context.Context, r *kgo.Record) bool
}

// screener is a recordProcessor that can tell cheaply that a record needs no delivery (see
// processor.screen).
type screener interface {
	screen(r *kgo.Record) bool
}

// partitionStart is one assigned partition and its start offset.
type partitionStart struct {
	topic     string
	partition int32
	offset    int64
	unsettled bool
	// atEnd says offset is the end of the partition, where a new group starts (not a log start
	// or a commit): a shared reader already past it may start the lane where it is.
	atEnd bool
}

type topicPartition struct {
	topic     string
	partition int32
}

// lane is the per-egress half of the dispatcher: it orders records, bounds what is in flight and
// buffered, delivers through a processor, tracks completed offsets per partition and commits the
// contiguous completed prefix.
type lane struct {
	logger      *zap.Logger
	order       contract.DeliveryOrder
	proc        recordProcessor
	up          upstream
	metrics     *egressMetrics
	maxBuffered int
	drain       time.Duration
	interval    time.Duration
	retry       time.Duration
	// slots bounds deliveries in flight across the egress for Unordered and KeyOrdered.
	slots chan struct{}
	// units is the egress's account on the dispatcher's bound on deliveries in flight across all
	// egresses (one unit a delivery); nil for none.
	units *membudget.Account
	// unitTurn (capacity 1) lets one partition at a time wait for a unit.
	unitTurn chan struct{}
	// bytes is the egress's account on the memory budget: the source acquired every pushed
	// record's bytes there (or, for a record of a shared reader, the reader did: see
	// sharedRecord), and the lane releases them once the record is finished or dropped.
	bytes *membudget.Account

	mu     sync.Mutex
	parts  map[topicPartition]*partition
	closed bool

	// commitMu serializes commits with each other and with revocation, so that a periodic
	// commit that read a partition's offset before it was revoked finishes before revoke
	// returns — and therefore before another member can own the partition.
	commitMu sync.Mutex
	// revokeMu makes revocations and close run one at a time, so that kgo's revoke callback
	// waits for a close that is committing the same partitions.
	revokeMu sync.Mutex

	// Periodic commits run on a timer armed only while there is something to commit (see
	// armCommit): a lane that is idle or caught up holds no goroutine and no ticker.
	commitCtx  context.Context // ends commits in progress when the lane closes
	stopCommit context.CancelFunc
	armed      atomic.Bool // a commit is scheduled; read without timerMu on the hot path
	timerMu    sync.Mutex
	timer      *time.Timer // the scheduled commit, nil for none
	due        time.Time   // when timer fires
	slot       time.Time   // the commit's reserved turn in the commit rate; zero for none
	urgent     bool        // the next commit does not wait for the commit rate
	closing    bool        // no commit is scheduled any more
	commits    sync.WaitGroup
	// pace is the process-wide bound on commit requests a second (nil: none); see
	// config.commitPace.
	pace *rate.Limiter
	// workers runs the deliveries (config.workers).
	workers *workerPool
}

func newLane(logger *zap.Logger, order contract.DeliveryOrder, proc recordProcessor, up upstream, m *egressMetrics, cfg *config, maxInFlight int, bytes *membudget.Account) *lane {
	if maxInFlight <= 0 {
		maxInFlight = cfg.maxInFlight
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &lane{
		logger:      logger,
		order:       order,
		proc:        proc,
		up:          up,
		metrics:     m,
		maxBuffered: max(cfg.maxBuffered, 1),
		drain:       cfg.drainTimeout,
		interval:    cfg.commitInterval,
		retry:       cfg.retryInterval,
		slots:       make(chan struct{}, maxInFlight),
		unitTurn:    make(chan struct{}, 1),
		bytes:       bytes,
		parts:       map[topicPartition]*partition{},
		commitCtx:   ctx,
		stopCommit:  cancel,
		pace:        cfg.commitPace,
		workers:     cfg.workers,
	}
	return l
}

// partition is the lane's state for one assigned partition. Its worker — the goroutine that
// starts its records in order — runs only while records are queued: push starts it, and it exits
// once the queue is empty, so that a lane's idle partitions cost no goroutine.
type partition struct {
	tp     topicPartition
	ctx    context.Context // ends deliveries: cancelled when the drain timeout passes
	cancel context.CancelFunc
	stop   chan struct{} // closed when no new record may start
	// wg counts the worker and the deliveries it started.
	wg sync.WaitGroup

	// flowMu orders the kgo pause/resume calls of applyFlow.
	flowMu    sync.Mutex
	mu        sync.Mutex
	tracker   *offsets.Tracker
	queue     []*kgo.Record
	committed int64 // last committed offset; -1 before the first commit
	hwm       int64
	paused    bool
	// keys (KeyOrdered) holds the records waiting behind a key in flight; nil until needed.
	keys map[string][]*kgo.Record
	// running says the worker runs; it is set, with wg.Add, only while stopped is not.
	running bool
	// stopped says the partition is stopping: no worker starts any more.
	stopped bool
	// gone, once set, says the partition stopped and released its records, so a late push
	// releases its own at once.
	gone bool
}

func (l *lane) assign(starts []partitionStart) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	unsettled := false
	for _, s := range starts {
		tp := topicPartition{s.topic, s.partition}
		if _, ok := l.parts[tp]; ok {
			l.logger.Warn("partition assigned twice; keeping the running one",
				zap.String("topic", s.topic), zap.Int32("partition", s.partition))
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		p := &partition{
			tp:        tp,
			ctx:       ctx,
			cancel:    cancel,
			stop:      make(chan struct{}),
			tracker:   offsets.New(s.offset),
			committed: s.offset,
			hwm:       s.offset,
		}
		if s.unsettled {
			p.committed = -1
			unsettled = true
		}
		l.parts[tp] = p
	}
	if unsettled {
		l.requestCommit()
	}
}

// unsettled counts partitions whose start offset is not committed yet.
func (l *lane) unsettled() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.parts {
		p.mu.Lock()
		if p.committed < 0 {
			n++
		}
		p.mu.Unlock()
	}
	return n
}

func (l *lane) push(topic string, partition int32, recs []*kgo.Record, hwm int64) {
	l.mu.Lock()
	p := l.parts[topicPartition{topic, partition}]
	l.mu.Unlock()
	if p == nil {
		l.release(recs...) // not ours (any more)
		return
	}
	// Records that need no delivery (a shared reader's records the filter drops: most of them
	// when many Triggers filter one topic) are told apart here, before p.mu, and never queued.
	var buf [64]bool
	wanted := l.screen(recs, buf[:0])
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		l.release(recs...)
		return
	}
	var skipped []*kgo.Record
	for i, r := range recs {
		if r.Offset < p.tracker.Next() && p.tracker.Outstanding() == 0 {
			// kgo moved back: the committed offset was out of range and consumption reset to
			// the start of the partition. Track from here.
			l.logger.Warn("partition offset reset", zap.String("topic", topic),
				zap.Int32("partition", partition), zap.Int64("offset", r.Offset),
				zap.Int64("expected", p.tracker.Next()))
			p.tracker = offsets.New(r.Offset)
			p.committed = min(p.committed, r.Offset)
		}
		if wanted != nil && !wanted[i] {
			// Complete already: the tracker only moves past it, in order with the records
			// before it that are still queued or in flight.
			if err := p.tracker.Skip(r.Offset); err != nil {
				l.logger.Error("skipping a record below the partition's position", zap.String("topic", topic),
					zap.Int32("partition", partition), zap.Int64("offset", r.Offset), zap.Error(err))
			}
			skipped = append(skipped, r)
			continue
		}
		if err := p.tracker.Add(r.Offset); err != nil {
			// Cannot happen with kgo, which returns each record of an assignment once.
			l.logger.Error("skipping a record below the partition's position", zap.String("topic", topic),
				zap.Int32("partition", partition), zap.Int64("offset", r.Offset), zap.Error(err))
			skipped = append(skipped, r)
			continue
		}
		p.queue = append(p.queue, r)
	}
	p.hwm = max(p.hwm, hwm)
	pause := !p.paused && p.tracker.Outstanding() >= l.maxBuffered
	if pause {
		p.paused = true
	}
	start := len(p.queue) > 0 && !p.running && !p.stopped
	if start {
		p.running = true
		p.wg.Add(1)
	}
	p.mu.Unlock()
	l.release(skipped...)
	if pause {
		l.applyFlow(p)
	}
	if start {
		go l.work(p)
	}
	l.armCommit()
}

// screen says which of recs need delivering, appended to buf, or returns nil when all may.
// Records it rejects are counted and complete (see processor.screen); a filter that panics makes
// its record wanted, and process meets the panic again and halts only this egress.
func (l *lane) screen(recs []*kgo.Record, buf []bool) []bool {
	sc, ok := l.proc.(screener)
	if !ok {
		return nil
	}
	all := true
	for _, r := range recs {
		w := sc.screen(r)
		all = all && w
		buf = append(buf, w)
	}
	if all {
		return nil
	}
	return buf
}

// work starts the deliveries of one partition in offset order, as its order allows, and exits
// once the queue is empty (push starts it again) or the partition stops.
func (l *lane) work(p *partition) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(p.queue) == 0 || p.stopped {
			// Stopping: stopPartitions releases what is still queued.
			if len(p.queue) == 0 {
				p.queue = nil
			}
			p.running = false
			p.mu.Unlock()
			return
		}
		r := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if !l.start(p, r) {
			// Stopping: r was not started; stopPartitions releases the rest of the queue.
			l.release(r)
			p.mu.Lock()
			p.running = false
			p.mu.Unlock()
			return
		}
	}
}

// start delivers r, or hands it to a goroutine, per the lane's order. It returns false when the
// partition is stopping.
func (l *lane) start(p *partition, r *kgo.Record) bool {
	select {
	case <-p.stop:
		return false
	default:
	}
	switch {
	case l.order == contract.Ordered:
		// One in flight per partition: deliver right here, in the partition's goroutine.
		if !l.acquireUnit(p) {
			return false
		}
		l.deliver(p, r)
		l.units.Release(1)
		return true
	case l.order == contract.KeyOrdered && r.Key != nil:
		key := string(r.Key)
		p.mu.Lock()
		if waiting, busy := p.keys[key]; busy {
			p.keys[key] = append(waiting, r)
			p.mu.Unlock()
			return true
		}
		if p.keys == nil {
			p.keys = map[string][]*kgo.Record{}
		}
		p.keys[key] = nil
		p.mu.Unlock()
		if !l.acquire(p) {
			return false
		}
		p.wg.Add(1)
		l.workers.run(func() {
			defer p.wg.Done()
			defer l.releaseSlot()
			l.runKey(p, key, r)
		})
		return true
	default:
		// Unordered, and KeyOrdered records without a key: a record without a partitionkey
		// promises no order, so each is its own key.
		if !l.acquire(p) {
			return false
		}
		p.wg.Add(1)
		l.workers.run(func() {
			defer p.wg.Done()
			defer l.releaseSlot()
			l.deliver(p, r)
		})
		return true
	}
}

// runKey delivers r and then the records that queued behind its key, one at a time.
func (l *lane) runKey(p *partition, key string, r *kgo.Record) {
	for {
		l.deliver(p, r)
		p.mu.Lock()
		waiting := p.keys[key]
		stopped := false
		select {
		case <-p.stop:
			stopped = true
		default:
		}
		if len(waiting) == 0 || stopped {
			delete(p.keys, key)
			p.mu.Unlock()
			l.release(waiting...)
			return
		}
		r = waiting[0]
		waiting[0] = nil
		p.keys[key] = waiting[1:]
		p.mu.Unlock()
	}
}

func (l *lane) acquire(p *partition) bool {
	select {
	case l.slots <- struct{}{}:
	case <-p.stop:
		return false
	}
	if !l.acquireUnit(p) {
		<-l.slots
		return false
	}
	return true
}

func (l *lane) releaseSlot() {
	l.units.Release(1)
	<-l.slots
}

// acquireUnit waits for a unit of the process-wide bound on deliveries in flight. The bound is
// shared as the memory budget is (membudget): an equal share among the egresses delivering, and
// one delivery always admitted to an egress that has none in flight — so egresses whose
// subscribers hang hold at most their share, and every other egress still delivers.
//
// An account wakes one waiter, so the lane's partitions take turns at waiting (unitTurn): with two
// waiting on one account, the second would miss the wake and wait for good.
func (l *lane) acquireUnit(p *partition) bool {
	if l.units == nil {
		return true
	}
	select {
	case l.unitTurn <- struct{}{}:
	case <-p.stop:
		return false
	}
	defer func() { <-l.unitTurn }()
	for {
		ok, retry := l.units.Acquire(1)
		if ok {
			return true
		}
		select {
		case <-retry:
		case <-p.stop:
			l.units.StopWaiting()
			return false
		}
	}
}

// deliver processes one record and marks it done unless the partition's context ended it. Either
// way the record is finished here, and its budget bytes are released.
func (l *lane) deliver(p *partition, r *kgo.Record) {
	l.metrics.inFlight.Inc()
	completed := l.proc.process(p.ctx, r)
	l.metrics.inFlight.Dec()
	l.finish(p, r, completed)
}

// finish marks r done unless it was not completed, resumes the partition's fetching once half its
// buffer is free, and releases r's budget bytes.
func (l *lane) finish(p *partition, r *kgo.Record, completed bool) {
	defer l.release(r)
	if !completed {
		return
	}
	p.mu.Lock()
	if err := p.tracker.Done(r.Offset); err != nil {
		l.logger.Error("marking an offset done", zap.String("topic", r.Topic),
			zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
	}
	resume := p.paused && p.tracker.Outstanding() <= l.maxBuffered/2
	if resume {
		p.paused = false
	}
	p.mu.Unlock()
	if resume {
		l.applyFlow(p)
	}
	l.armCommit()
}

// release gives back the budget bytes of records the lane is done with: to the lane's account,
// or, for records of a shared reader, by dropping the lane's reference (the reader's account gets
// them back when the last lane holding the record let go).
func (l *lane) release(recs ...*kgo.Record) {
	var own int64
	for _, r := range recs {
		if sr := sharedOf(r); sr != nil {
			sr.unref()
			continue
		}
		own += recordBytes(r)
	}
	l.bytes.Release(own)
}

// applyFlow makes kgo's fetching of p match p.paused. The flag flips under p.mu, but the kgo call
// happens after p.mu is released, so without flowMu a pause and a resume could reach kgo in the
// opposite order of their flips:
//  1. push sets paused=true and releases p.mu;
//  2. deliveries drain the buffer; one sets paused=false and calls resume (a no-op: not paused yet);
//  3. push's pause reaches kgo last, and the partition stays paused with paused=false — for good.
//
// Each caller flips first and applies after, and applyFlow reads the flag under flowMu, so the
// last applyFlow to run applies the latest flip.
func (l *lane) applyFlow(p *partition) {
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused {
		l.up.pause(p.tp.topic, p.tp.partition)
	} else {
		l.up.resume(p.tp.topic, p.tp.partition)
	}
}

// requestCommit commits at once (the start offsets of unsettled partitions: readiness waits for
// them).
func (l *lane) requestCommit() { l.scheduleUrgent(0) }

// scheduleUrgent schedules a commit within d that the process-wide commit rate does not hold back:
// one for start offsets that readiness waits for.
func (l *lane) scheduleUrgent(d time.Duration) {
	l.timerMu.Lock()
	l.urgent = true
	l.timerMu.Unlock()
	l.scheduleCommit(d)
}

// armCommit schedules a commit one interval from now unless one is scheduled: records were queued
// or finished, so the completed prefix or the lag may move. The commit re-arms itself while there
// is more to commit (see timedCommit), so a lane commits at most once an interval while it
// advances, and not at all — no timer, no goroutine — while nothing moves.
func (l *lane) armCommit() {
	if l.armed.Load() {
		return
	}
	l.scheduleCommit(l.interval)
}

// scheduleCommit makes the next commit run within d: it arms the timer, or brings an armed one
// forward.
func (l *lane) scheduleCommit(d time.Duration) {
	l.timerMu.Lock()
	defer l.timerMu.Unlock()
	if l.closing {
		return
	}
	if l.timer != nil {
		if !time.Now().Add(d).Before(l.due) || !l.timer.Stop() {
			// Due as soon anyway, or firing now: that commit re-arms if it is not enough.
			return
		}
	}
	l.armLocked(d)
}

// armLocked starts the commit timer. Call with timerMu held and no timer armed.
func (l *lane) armLocked(d time.Duration) {
	l.due = time.Now().Add(d)
	l.timer = time.AfterFunc(d, l.timedCommit)
	l.armed.Store(true)
}

// timedCommit is a scheduled commit. Unless it is urgent, it first takes its turn in the
// process-wide commit rate (config.commitPace): when the rate has no room now, it reserves a slot
// and runs again then. Afterwards it schedules the next one: soon (the retry interval) while a
// start offset is not committed — readiness waits for it — and one interval on while a partition
// has records outstanding or a completed prefix the commit did not get through; otherwise the
// next record queued or finished arms it again.
func (l *lane) timedCommit() {
	l.timerMu.Lock()
	l.timer = nil
	l.armed.Store(false)
	if l.closing {
		l.timerMu.Unlock()
		return
	}
	urgent := l.urgent
	if wait := time.Until(l.slot); wait > 0 && !urgent {
		// Fired early (armed again meanwhile): the reserved slot is later.
		l.armLocked(wait)
		l.timerMu.Unlock()
		return
	}
	reserved := !l.slot.IsZero()
	l.slot, l.urgent = time.Time{}, false
	if l.pace != nil && !urgent && !reserved {
		if wait := l.pace.Reserve().Delay(); wait > 0 {
			l.slot = time.Now().Add(wait)
			l.armLocked(wait)
			l.timerMu.Unlock()
			return
		}
	}
	l.commits.Add(1)
	l.timerMu.Unlock()
	defer l.commits.Done()
	l.commit(l.commitCtx, nil)
	switch unsettled, pending := l.backlog(); {
	case unsettled:
		l.scheduleUrgent(l.retry)
	case pending:
		l.scheduleCommit(l.interval)
	}
}

// backlog reports whether a partition's start offset is not committed yet, and whether one has
// records outstanding or completed past its last commit.
func (l *lane) backlog() (unsettled, pending bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.parts {
		p.mu.Lock()
		unsettled = unsettled || p.committed < 0
		pending = pending || p.tracker.Outstanding() > 0 || p.tracker.Committable() > p.committed
		p.mu.Unlock()
	}
	return unsettled, pending
}

// commit commits the completed prefix of the given partitions, or of all assigned partitions
// when ps is nil, where it advanced. It also refreshes the lag gauge.
func (l *lane) commit(ctx context.Context, ps []*partition) {
	final := ps != nil
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if ps == nil {
		l.mu.Lock()
		for _, p := range l.parts {
			ps = append(ps, p)
		}
		l.mu.Unlock()
	}
	var lag int64
	offs := map[string]map[int32]int64{}
	var advanced []*partition
	for _, p := range ps {
		p.mu.Lock()
		c := p.tracker.Committable()
		lag += max(p.hwm-c, 0)
		if c > p.committed {
			if offs[p.tp.topic] == nil {
				offs[p.tp.topic] = map[int32]int64{}
			}
			offs[p.tp.topic][p.tp.partition] = c
			advanced = append(advanced, p)
		}
		p.mu.Unlock()
	}
	l.metrics.lag.Set(float64(lag))
	if len(advanced) == 0 {
		return
	}
	if err := l.up.commit(ctx, offs); err != nil {
		if ctx.Err() == nil {
			l.logger.Warn("committing offsets; retrying at the next interval", zap.Any("offsets", offs), zap.Error(err))
		}
		return
	}
	if final {
		l.logger.Info("committed offsets of partitions leaving this member", zap.Any("offsets", offs))
	}
	for _, p := range advanced {
		p.mu.Lock()
		p.committed = max(p.committed, offs[p.tp.topic][p.tp.partition])
		p.mu.Unlock()
	}
}

func (l *lane) revoke(ctx context.Context, tps map[string][]int32, lost bool) {
	l.revokeMu.Lock()
	defer l.revokeMu.Unlock()
	l.commitMu.Lock()
	var ps []*partition
	l.mu.Lock()
	for t, parts := range tps {
		for _, n := range parts {
			tp := topicPartition{t, n}
			if p, ok := l.parts[tp]; ok {
				ps = append(ps, p)
				delete(l.parts, tp)
			}
		}
	}
	l.mu.Unlock()
	l.commitMu.Unlock()
	if len(ps) == 0 {
		return
	}
	l.stopPartitions(ps, lost)
	if !lost {
		// The partitions left l.parts above, so the commit loop no longer sees them; this is
		// their last commit.
		l.commit(ctx, ps)
	}
	for _, p := range ps {
		p.mu.Lock()
		paused := p.paused
		p.mu.Unlock()
		if paused {
			// Pausing outlives the assignment in kgo: undo it, or the partition would stay
			// paused when it comes back to this member.
			l.up.resume(p.tp.topic, p.tp.partition)
		}
	}
}

// stopPartitions stops starting new records, gives in-flight deliveries the drain timeout (none
// when the partitions were lost), then cancels them and waits.
func (l *lane) stopPartitions(ps []*partition, lost bool) {
	for _, p := range ps {
		p.mu.Lock()
		p.stopped = true // no worker starts from here on, so wg.Wait below sees them all
		p.mu.Unlock()
		close(p.stop)
	}
	done := make(chan struct{})
	go func() {
		for _, p := range ps {
			p.wg.Wait()
		}
		close(done)
	}()
	if !lost && l.drain > 0 {
		t := time.NewTimer(l.drain)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	for _, p := range ps {
		p.cancel()
	}
	<-done
	// Nothing runs on the partitions any more: what is still queued, or waiting behind a key, is
	// never delivered here; give its bytes back.
	for _, p := range ps {
		p.mu.Lock()
		left := p.queue
		for _, waiting := range p.keys {
			left = append(left, waiting...)
		}
		p.gone = true
		p.queue = nil
		clear(p.keys)
		p.mu.Unlock()
		l.release(left...)
	}
}

// close stops every partition, commits what is complete and stops the scheduled commits. The
// lane accepts no assignment afterwards.
func (l *lane) close(ctx context.Context) {
	l.commitMu.Lock()
	l.mu.Lock()
	l.closed = true
	tps := map[string][]int32{}
	for tp := range l.parts {
		tps[tp.topic] = append(tps[tp.topic], tp.partition)
	}
	l.mu.Unlock()
	l.commitMu.Unlock()
	l.revoke(ctx, tps, false)
	l.timerMu.Lock()
	l.closing = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.timerMu.Unlock()
	l.stopCommit()
	l.commits.Wait()
	l.metrics.lag.Set(0)
}
