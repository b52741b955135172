package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
)

// Shared reads (docs/architecture.md, "Shared reads").
//
// Every Trigger of a Broker and every Subscription of a KafkaChannel reads the same topic. A
// sharedReader fetches each partition of that topic once per dispatcher process and hands the
// records to the lanes of all those egresses — its followers — while they keep up:
//
//   - Which replica reads which partition is decided by one consumer group per topic, the reader
//     group (readerGroup): its members are the dispatcher replicas, and every follower of a reader
//     owns exactly the partitions its reader was assigned. A revocation is complete — each
//     follower's lane committed what it finished and stopped — before the reader's revoke callback
//     returns, so the next owner starts where this one stopped and two replicas never commit the
//     same partition of one egress.
//   - Each follower commits under its own consumer group name (knative-trigger-<ns>-<name>,
//     kafka.<ns>.<channel>.<uid>) as a group without members: the commits carry no generation,
//     which Kafka accepts for a group nobody joined. Lag tools and a switch from or back to
//     Knative's Kafka broker read and write the same offsets; while another consumer is a member
//     of that group (the incumbent's dispatcher, still running), Kafka refuses our commits and the
//     lane retries them until it left.
//   - A follower's start offset on a partition is what its group committed, or, for a group that
//     never committed on the topic, the end of the partition (as today, and committed at once).
//     The reader starts a partition at the lowest start among the followers within catchUpWindow
//     of the highest, and hands each follower only records at or after its own position.
//   - A follower behind the reader — one that starts further back, or whose lane filled its
//     buffer while others kept up — detaches: a catch-up client of its own (groupless, assigned
//     the partitions directly) reads from its position until it reaches the reader's, and it
//     rejoins. At most maxDetached followers of a reader read on their own; beyond that a full
//     follower holds the partition back for all (as separate consumers sharing one budget would).
//   - Records are charged once to the reader's budget account and shared (sharedRecord); the
//     event in one is decoded once.

// readerGroup is the consumer group whose assignment says which dispatcher replica reads which
// partition of topic. It commits nothing.
func readerGroup(topic string) string { return "knkafka-dispatcher-" + topic }

// catchUpWindow is how far (in offsets) a follower's start may be behind the furthest follower's
// and still be read by the shared reader when it starts a partition: the reader starts at the
// lowest such start and the followers ahead skip what they already had. Further back, a follower
// catches up on its own.
const catchUpWindow = 5000

// readerKey identifies a shared reader: a Kafka cluster with credentials (kafkaconn.Key) and a
// topic.
type readerKey struct {
	cluster string
	topic   string
}

// sharedReader reads one topic for all its followers; see the comment at the top of this file.
type sharedReader struct {
	logger *zap.Logger
	key    readerKey
	topic  string
	group  string
	res    *contract.Resource // the first follower's resource: how to name refused credentials
	kopts  []kgo.Opt
	cfg    *config
	bytes  *membudget.Account
	onEvt  func(readerEvent)
	m      *metrics

	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // capacity 1: followers are waiting for their starts

	// topoMu serializes changes of who reads what — followers joining and leaving, partitions
	// assigned and revoked — across the Kafka calls they make. Take it before mu.
	topoMu sync.Mutex

	mu        sync.Mutex
	cl        *kgo.Client
	adm       *kadm.Client
	topicID   kadm.TopicID // the topic's ID, for the followers' commits; zero until looked up
	followers map[*follower]bool
	waiting   []*follower // joined, starts not fixed on the owned partitions yet
	owned     map[int32]*sharedPartition
	joined    bool
	reason    string
	message   string
	detached  int // followers with a catch-up client
}

// readerEvent is what tests observe of a reader: ownership changes and commits, by replica.
type readerEvent struct {
	kind      string // "owned", "released", "commit", "detach", "rejoin"
	group     string // the follower's group for commit, detach and rejoin
	partition int32
	offset    int64
}

// sharedPartition is a partition the reader owns.
type sharedPartition struct {
	cursor int64 // the offset the reader hands on next
	paused bool
	// attached are the followers the reader feeds on this partition.
	attached map[*follower]*followedPartition
}

// follower is one egress's lane fed by a shared reader, and its upstream: it commits under the
// egress's group, and pauses or resumes through whichever client reads the partition for it.
type follower struct {
	r       *sharedReader
	logger  *zap.Logger
	group   string
	initial contract.InitialOffset
	lane    *lane
	bytes   *membudget.Account // what its catch-up client fetches
	halted  atomic.Bool

	// pushMu is held from choosing records for the lane to handing them over, by the catch-up
	// client, and briefly by a revocation after it took the partition away, so that nothing the
	// catch-up chose before reaches the lane after the revocation.
	pushMu sync.Mutex

	// Guarded by r.mu.
	parts   map[int32]*followedPartition
	settled bool
	left    bool
	catchup *catchUp
	failure string // why the starts could not be fixed, while they cannot
}

// followedPartition is a follower's state on one partition its reader owns.
type followedPartition struct {
	next     int64 // the next offset the lane wants
	attached bool  // fed by the reader; else by the follower's catch-up client
	full     bool  // the lane asked to pause it
}

func newSharedReader(logger *zap.Logger, key readerKey, res *contract.Resource, kopts []kgo.Opt, cfg *config, bytes *membudget.Account, m *metrics) *sharedReader {
	ctx, cancel := context.WithCancel(context.Background())
	r := &sharedReader{
		logger:    logger.With(zap.String("topic", key.topic)),
		key:       key,
		topic:     key.topic,
		group:     readerGroup(key.topic),
		res:       res,
		kopts:     kopts,
		cfg:       cfg,
		bytes:     bytes,
		onEvt:     cfg.readerEvents,
		m:         m,
		cancel:    cancel,
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		followers: map[*follower]bool{},
		owned:     map[int32]*sharedPartition{},
		reason:    ReasonJoiningGroup,
		message:   "waiting for the topic",
	}
	m.sharedReaders.Inc()
	go r.run(ctx)
	return r
}

func (r *sharedReader) event(e readerEvent) {
	if r.onEvt != nil {
		r.onEvt(e)
	}
}

func (r *sharedReader) setPhase(reason, message string) {
	r.mu.Lock()
	r.reason, r.message = reason, message
	r.mu.Unlock()
}

// newFollower returns a follower of r for an egress; add starts it.
func (r *sharedReader) newFollower(logger *zap.Logger, eg *contract.Egress, bytes *membudget.Account) *follower {
	return &follower{r: r, logger: logger, group: eg.ConsumerGroup, initial: eg.InitialOffset, bytes: bytes, parts: map[int32]*followedPartition{}}
}

// add makes f a follower: once its starts on the partitions r owns are fixed, it is fed.
func (r *sharedReader) add(f *follower) {
	r.mu.Lock()
	r.followers[f] = true
	r.waiting = append(r.waiting, f)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// empty says whether r has no followers left.
func (r *sharedReader) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.followers) == 0
}

// close stops r and leaves the reader group; call once it has no followers.
func (r *sharedReader) close() {
	r.cancel()
	<-r.done
	r.m.sharedReaders.Dec()
	if leaked := r.bytes.Close(); leaked != 0 {
		r.logger.Error("memory budget bytes still held after the shared reader stopped; released them", zap.Int64("bytes", leaked))
	}
}

// run waits for the topic, joins the reader group and hands records on until ctx ends.
func (r *sharedReader) run(ctx context.Context) {
	defer close(r.done)
	if !waitTopics(ctx, r.logger, r.res, []string{r.topic}, r.kopts, r.cfg.retryInterval, r.setPhase) {
		return
	}
	opts := append([]kgo.Opt{
		kgo.WithLogger(kzap.New(r.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(r.topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.AdjustFetchOffsetsFn(r.adjust),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) { r.release(ctx, m[r.topic], false) }),
		kgo.OnPartitionsLost(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) { r.release(ctx, m[r.topic], true) }),
		kgo.FetchMaxBytes(r.cfg.fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(r.cfg.fetchMaxPartitionBytes),
		kgo.FetchMaxWait(r.cfg.fetchMaxWait),
		kgo.MaxConcurrentFetches(r.cfg.maxConcurrentFetches),
	}, r.kopts...)
	if r.cfg.sessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(r.cfg.sessionTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		r.setPhase(ReasonKafkaUnavailable, err.Error())
		return
	}
	defer cl.Close()
	r.mu.Lock()
	r.cl, r.adm = cl, kadm.NewClient(cl)
	r.reason, r.message = ReasonJoiningGroup, "joining the shared reader group "+r.group
	r.mu.Unlock()
	go r.resolveLoop(ctx)
	for {
		// Everything franz-go buffered (one fetch response: MaxConcurrentFetches), not a poll's
		// worth: a lane that fills pauses its partition, and franz-go drops a paused partition's
		// buffered records and fetches them again on resume. With 100-record polls a single
		// Trigger draining a backlog of well-compressed events fetched every record eight times.
		// Polled records still enter the budget one by one (hand), and until then they are what
		// franz-go would have held buffered.
		fs := cl.PollRecords(ctx, -1)
		if ctx.Err() != nil || fs.IsClientClosed() {
			cl.AllowRebalance()
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.logger.Warn("fetching", zap.Int32("partition", p), zap.Error(err))
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 && ctx.Err() == nil {
				r.hand(ctx, cl, p.Partition, p.Records, p.HighWatermark)
			}
		})
		cl.AllowRebalance()
	}
}

// hand charges recs (one partition's, in offset order) to the budget, waiting while it refuses
// — with rebalancing allowed, so a long wait never holds up the reader group — and hands each
// follower attached to the partition the ones at or after its position.
func (r *sharedReader) hand(ctx context.Context, cl *kgo.Client, p int32, recs []*kgo.Record, hwm int64) {
	r.mu.Lock()
	part := r.owned[p]
	r.mu.Unlock()
	if part == nil {
		return
	}
	srs := make([]*sharedRecord, 0, len(recs))
	defer func() {
		for _, sr := range srs {
			sr.unref() // the reader's own reference
		}
	}()
	for len(recs) > 0 {
		n := 0
		var retry <-chan struct{}
		for _, rec := range recs {
			size := recordBytes(rec)
			ok, ch := r.bytes.Acquire(size)
			if !ok {
				retry = ch
				break
			}
			srs = append(srs, newSharedRecord(rec, size, r.bytes))
			n++
		}
		recs = recs[n:]
		if retry == nil {
			break
		}
		// Hand on what was admitted, then wait for the rest.
		r.feed(part, p, srs, hwm)
		for _, sr := range srs {
			sr.unref()
		}
		srs = srs[:0]
		cl.AllowRebalance()
		select {
		case <-ctx.Done():
			r.bytes.StopWaiting()
			return
		case <-retry:
		}
		r.mu.Lock()
		still := r.owned[p] == part
		r.mu.Unlock()
		if !still {
			r.bytes.StopWaiting()
			return
		}
	}
	r.feed(part, p, srs, hwm)
}

// handOff is records chosen for one follower's lane.
type handOff struct {
	f    *follower
	recs []*kgo.Record
}

// feed hands srs to the followers attached to part, detaching those whose lane is full when
// there is room for another catch-up client.
func (r *sharedReader) feed(part *sharedPartition, p int32, srs []*sharedRecord, hwm int64) {
	if len(srs) == 0 {
		return
	}
	last := srs[len(srs)-1].rec.Offset
	var out []handOff
	r.mu.Lock()
	if r.owned[p] != part {
		r.mu.Unlock()
		return
	}
	for f, fp := range part.attached {
		if f.halted.Load() {
			continue
		}
		if fp.full && r.canDetachLocked(f) {
			r.detachLocked(f, p, part, fp)
			continue
		}
		i, _ := slices.BinarySearchFunc(srs, fp.next, func(sr *sharedRecord, next int64) int {
			return cmpOffset(sr.rec.Offset, next)
		})
		if i == len(srs) {
			continue
		}
		sel := make([]*kgo.Record, len(srs)-i)
		for j, sr := range srs[i:] {
			sr.ref()
			sel[j] = &sr.rec
		}
		fp.next = last + 1
		out = append(out, handOff{f, sel})
	}
	part.cursor = max(part.cursor, last+1)
	r.applyFlowLocked(p, part)
	r.mu.Unlock()
	for _, h := range out {
		h.f.lane.push(r.topic, p, h.recs, hwm)
	}
}

func cmpOffset(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// applyFlowLocked pauses the partition while no attached follower can take more — or while a
// full one cannot detach — and resumes it otherwise. Call with r.mu held.
func (r *sharedReader) applyFlowLocked(p int32, part *sharedPartition) {
	if r.cl == nil {
		return
	}
	room, stuck := false, false
	for f, fp := range part.attached {
		if f.halted.Load() {
			continue
		}
		if fp.full {
			stuck = stuck || !r.canDetachLocked(f)
			continue
		}
		room = true
	}
	pause := !room || stuck
	if pause == part.paused {
		return
	}
	part.paused = pause
	tp := map[string][]int32{r.topic: {p}}
	if pause {
		r.cl.PauseFetchPartitions(tp)
	} else {
		r.cl.ResumeFetchPartitions(tp)
	}
}

// canDetachLocked says whether f may read on its own: it does already, or there is room for
// another catch-up client. Call with r.mu held.
func (r *sharedReader) canDetachLocked(f *follower) bool {
	return f.catchup != nil || r.detached < r.cfg.maxDetached
}

// detachLocked moves f's partition p from the reader to f's catch-up client, from f's position.
// Call with r.mu held.
func (r *sharedReader) detachLocked(f *follower, p int32, part *sharedPartition, fp *followedPartition) {
	delete(part.attached, f)
	fp.attached = false
	if f.catchup == nil {
		f.catchup = newCatchUp(f)
		r.detached++
	}
	f.catchup.add(p, fp.next, fp.full)
	r.event(readerEvent{kind: "detach", group: f.group, partition: p, offset: fp.next})
	r.m.catchUps.WithLabelValues("detach").Inc()
	r.logger.Info("lane reads a partition on its own to catch up", zap.String("group", f.group), zap.Int32("partition", p), zap.Int64("offset", fp.next), zap.Int64("reader", part.cursor))
}

func (r *sharedReader) onAssigned(_ context.Context, _ *kgo.Client, added map[string][]int32) {
	r.mu.Lock()
	r.joined = true
	r.mu.Unlock()
	r.logger.Info("shared reader assigned partitions", zap.String("group", r.group), zap.Int32s("partitions", added[r.topic]))
}

// adjust runs when partitions are assigned to the reader: it fixes every follower's start on them
// (and, for followers still waiting, on the partitions owned before) and starts the reader where
// the followers are.
func (r *sharedReader) adjust(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	r.topoMu.Lock()
	defer r.topoMu.Unlock()
	var ps []int32
	for p := range offs[r.topic] {
		ps = append(ps, p)
	}
	r.mu.Lock()
	all := slices.Clone(ps)
	for p := range r.owned {
		if !slices.Contains(all, p) {
			all = append(all, p)
		}
	}
	fs := make([]*follower, 0, len(r.followers))
	for f := range r.followers {
		fs = append(fs, f)
	}
	r.mu.Unlock()
	slices.Sort(ps)
	slices.Sort(all)
	starts, end, failed := r.resolve(ctx, fs, all)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		// The reader starts at the lowest start within catchUpWindow of the highest, or at the end
		// of the partition when no follower has a start.
		var at []int64
		for _, f := range fs {
			if st, ok := starts[f][p]; ok {
				at = append(at, st.offset)
			}
		}
		cursor := end[p]
		if len(at) > 0 {
			top := slices.Max(at)
			cursor = top
			for _, st := range at {
				if st >= top-catchUpWindow {
					cursor = min(cursor, st)
				}
			}
		}
		r.owned[p] = &sharedPartition{cursor: cursor, attached: map[*follower]*followedPartition{}}
		offs[r.topic][p] = kgo.NewOffset().At(cursor)
		r.event(readerEvent{kind: "owned", partition: p, offset: cursor})
	}
	for _, f := range fs {
		if f.left {
			continue
		}
		if err := failed[f]; err != nil {
			// resolveLoop tries again, and then attaches or detaches it.
			f.failure = err.Error()
			if !slices.Contains(r.waiting, f) {
				r.waiting = append(r.waiting, f)
			}
			continue
		}
		r.waiting = slices.DeleteFunc(r.waiting, func(w *follower) bool { return w == f })
		r.startLocked(f, all, starts[f])
	}
	for _, p := range ps {
		r.applyFlowLocked(p, r.owned[p])
	}
	r.logger.Info("shared reader starts partitions", zap.Int32s("partitions", ps), zap.Int("followers", len(fs)))
	return offs, nil
}

// startLocked hands f's lane the partitions ps from starts and attaches f to the reader where it
// is not behind it, else to its catch-up client. Call with r.mu held and topoMu held.
func (r *sharedReader) startLocked(f *follower, ps []int32, starts map[int32]partitionStart) {
	if f.left {
		return
	}
	var assign []partitionStart
	for _, p := range ps {
		part := r.owned[p]
		st, ok := starts[p]
		if part == nil || !ok {
			continue
		}
		if _, dup := f.parts[p]; dup {
			continue
		}
		if st.atEnd && st.offset < part.cursor {
			// A new group starting at the end of the partition: the reader already passed that
			// end, and everything it passed was written before this follower can report Ready,
			// so it may start where the reader is.
			st.offset = part.cursor
		}
		assign = append(assign, st)
		f.parts[p] = &followedPartition{next: st.offset}
	}
	// The lane owns the partitions before any record can reach it.
	f.lane.assign(assign)
	for _, st := range assign {
		part, fp := r.owned[st.partition], f.parts[st.partition]
		if st.offset >= part.cursor {
			fp.attached = true
			part.attached[f] = fp
			r.applyFlowLocked(st.partition, part)
			continue
		}
		r.detachLocked(f, st.partition, part, fp)
	}
	f.settled, f.failure = true, ""
}

// resolveLoop fixes the starts of followers that joined after the reader owned its partitions,
// in batches, retrying the ones that failed.
func (r *sharedReader) resolveLoop(ctx context.Context) {
	retry := time.NewTicker(r.cfg.retryInterval)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-retry.C:
		}
		r.resolveWaiting(ctx)
	}
}

func (r *sharedReader) resolveWaiting(ctx context.Context) {
	r.topoMu.Lock()
	defer r.topoMu.Unlock()
	r.mu.Lock()
	if !r.joined || r.adm == nil || len(r.waiting) == 0 {
		r.mu.Unlock()
		return
	}
	fs := r.waiting
	r.waiting = nil
	ps := make([]int32, 0, len(r.owned))
	for p := range r.owned {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	slices.Sort(ps)
	starts, _, failed := r.resolve(ctx, fs, ps)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		if f.left {
			continue
		}
		if err := failed[f]; err != nil {
			f.failure = err.Error()
			r.waiting = append(r.waiting, f)
			continue
		}
		r.startLocked(f, ps, starts[f])
	}
}

// resolve fixes where each follower starts on partitions ps: its group's committed offset; for a
// group that never committed on the topic, its initial offset (the end of each partition, or its
// log start for OffsetEarliest), committed at once on the partitions this replica does not own so
// that every replica starts the group from one set of offsets (the owner commits its own through
// the lane, as unsettled starts); for a partition new to a group that committed on the others, its
// log start. It also returns the partitions' end offsets.
func (r *sharedReader) resolve(ctx context.Context, fs []*follower, ps []int32) (map[*follower]map[int32]partitionStart, map[int32]int64, map[*follower]error) {
	starts := map[*follower]map[int32]partitionStart{}
	failed := map[*follower]error{}
	end := map[int32]int64{}
	r.mu.Lock()
	adm := r.adm
	r.mu.Unlock()
	fail := func(err error) (map[*follower]map[int32]partitionStart, map[int32]int64, map[*follower]error) {
		for _, f := range fs {
			failed[f] = err
		}
		return starts, end, failed
	}
	if len(fs) == 0 && len(ps) == 0 {
		return starts, end, failed
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(rctx, r.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fail(fmt.Errorf("listing the end offsets of %s: %w", r.topic, err))
	}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	if len(fs) == 0 {
		return starts, end, failed
	}
	var logStart kadm.ListedOffsets
	logStartOf := func(p int32) (int64, error) {
		if logStart == nil {
			ls, err := adm.ListStartOffsets(rctx, r.topic)
			if err == nil {
				err = ls.Error()
			}
			if err != nil {
				return 0, fmt.Errorf("listing the start offsets of %s: %w", r.topic, err)
			}
			logStart = ls
		}
		o, ok := logStart.Lookup(r.topic, p)
		if !ok {
			return 0, fmt.Errorf("no start offset listed for %s/%d", r.topic, p)
		}
		return o.Offset, nil
	}
	groups := make([]string, 0, len(fs))
	for _, f := range fs {
		groups = append(groups, f.group)
	}
	committed := adm.FetchManyOffsets(rctx, groups...)
	for _, f := range fs {
		resp, ok := committed[f.group]
		if ok && errors.Is(resp.Err, kerr.GroupIDNotFound) {
			// A group nobody ever committed for (kfake says so; Kafka answers with nothing).
			resp.Err, resp.Fetched = nil, nil
		}
		if !ok || resp.Err != nil {
			err := errors.New("no answer")
			if ok {
				err = resp.Err
			}
			failed[f] = fmt.Errorf("fetching the committed offsets of group %s: %w", f.group, err)
			continue
		}
		mine := map[int32]partitionStart{}
		fresh := len(resp.Fetched[r.topic]) == 0
		var commitElsewhere map[int32]int64
		for p := range end {
			o, has := resp.Fetched.Lookup(r.topic, p)
			owned := slices.Contains(ps, p)
			switch {
			case has && o.Err == nil && o.At >= 0:
				if owned {
					mine[p] = partitionStart{topic: r.topic, partition: p, offset: o.At}
				}
			case fresh:
				at := end[p]
				if f.initial == contract.OffsetEarliest {
					at, err = logStartOf(p)
					if err != nil {
						failed[f] = err
					}
				}
				if owned {
					mine[p] = partitionStart{topic: r.topic, partition: p, offset: at, unsettled: true, atEnd: f.initial != contract.OffsetEarliest}
				} else {
					if commitElsewhere == nil {
						commitElsewhere = map[int32]int64{}
					}
					commitElsewhere[p] = at
				}
			default:
				// The group committed on other partitions of the topic: this one was added since,
				// and everything on it is newer than the group.
				if !owned {
					continue
				}
				at, err := logStartOf(p)
				if err != nil {
					failed[f] = err
				}
				mine[p] = partitionStart{topic: r.topic, partition: p, offset: at, unsettled: true}
			}
		}
		if failed[f] != nil {
			continue
		}
		if len(commitElsewhere) > 0 {
			if err := r.commitIfUncommitted(rctx, adm, f.group, commitElsewhere); err != nil {
				failed[f] = err
				continue
			}
		}
		starts[f] = mine
	}
	return starts, end, failed
}

// commitIfUncommitted commits offs for group on the partitions nobody committed meanwhile (another
// replica fixing the same new group's starts, or the owner's first progress).
func (r *sharedReader) commitIfUncommitted(ctx context.Context, adm *kadm.Client, group string, offs map[int32]int64) error {
	now, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		now, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("fetching the committed offsets of group %s: %w", group, err)
	}
	var c kadm.Offsets
	for p, at := range offs {
		if o, ok := now.Lookup(r.topic, p); ok && o.Err == nil && o.At >= 0 {
			continue
		}
		c.AddOffset(r.topic, p, at, -1)
	}
	if len(c) == 0 {
		return nil
	}
	resp, err := adm.CommitOffsets(ctx, group, c)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("committing the start offsets of group %s: %w", group, err)
	}
	return nil
}

// release takes partitions away from the reader: each follower's lane stops them and — unless
// they were lost — commits what it completed, all before release returns, and so before the
// reader group can give them to another replica.
func (r *sharedReader) release(ctx context.Context, ps []int32, lost bool) {
	if len(ps) == 0 {
		return
	}
	r.topoMu.Lock()
	defer r.topoMu.Unlock()
	r.mu.Lock()
	var fs []*follower
	for f := range r.followers {
		fs = append(fs, f)
	}
	for _, p := range ps {
		part := r.owned[p]
		if part == nil {
			continue
		}
		part.attached = map[*follower]*followedPartition{}
		if part.paused && r.cl != nil {
			// Pausing outlives the assignment in franz-go.
			r.cl.ResumeFetchPartitions(map[string][]int32{r.topic: {p}})
		}
		for _, f := range fs {
			if fp := f.parts[p]; fp != nil && !fp.attached && f.catchup != nil {
				f.catchup.remove(p)
			}
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Whatever the catch-up client chose before the partitions left reaches the lane
			// before the lane lets them go, and nothing after.
			f.pushMu.Lock()
			f.pushMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
			f.lane.revoke(ctx, map[string][]int32{r.topic: ps}, lost)
		}()
	}
	wg.Wait()
	r.mu.Lock()
	for _, p := range ps {
		delete(r.owned, p)
		for _, f := range fs {
			delete(f.parts, p)
		}
		r.event(readerEvent{kind: "released", partition: p})
	}
	for _, f := range fs {
		f.dropIdleCatchUpLocked()
	}
	r.mu.Unlock()
	r.logger.Info("shared reader released partitions", zap.Int32s("partitions", ps), zap.Bool("lost", lost))
}

// leave stops f: no more records reach it, its lane commits what it completed and stops, and its
// catch-up client closes.
func (f *follower) leave(ctx context.Context) {
	r := f.r
	r.topoMu.Lock()
	r.mu.Lock()
	f.left = true
	delete(r.followers, f)
	r.waiting = slices.DeleteFunc(r.waiting, func(w *follower) bool { return w == f })
	for p, fp := range f.parts {
		if part := r.owned[p]; part != nil && fp.attached {
			delete(part.attached, f)
			r.applyFlowLocked(p, part)
		}
	}
	cu := f.takeCatchUpLocked()
	r.mu.Unlock()
	if cu != nil {
		cu.close()
	}
	r.topoMu.Unlock()
	f.pushMu.Lock()
	f.pushMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
	// Commits go through f.commit, which needs the partitions still in f.parts. A revocation
	// running meanwhile waits for this close in the lane (revokeMu).
	f.lane.close(ctx)
	r.mu.Lock()
	clear(f.parts)
	r.mu.Unlock()
}

// halt stops feeding f for good (its processor panicked); leave still commits what it finished.
func (f *follower) halt() {
	f.halted.Store(true)
	r := f.r
	r.mu.Lock()
	cu := f.takeCatchUpLocked()
	for p, fp := range f.parts {
		if part := r.owned[p]; part != nil && fp.attached {
			r.applyFlowLocked(p, part)
		}
	}
	r.mu.Unlock()
	if cu != nil {
		go cu.close()
	}
}

// phase reports whether f is served: its starts fixed on every partition its reader owns.
func (f *follower) phase() (settled bool, reason, message string) {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case f.settled:
		return true, "", ""
	case !r.joined:
		return false, r.reason, r.message
	case f.failure != "":
		return false, ReasonFixingOffsets, f.failure
	default:
		return false, ReasonFixingOffsets, fmt.Sprintf("resolving the start offsets of group %s", f.group)
	}
}

// commit implements upstream: it commits under f's group, as a group without members, the
// partitions f still holds.
//
// It sends the OffsetCommit request itself rather than through kadm.CommitOffsets, which looks
// the topic's ID up with a Metadata request before every commit: with 1,000 Triggers that is a
// thousand extra requests a second to the broker while they advance. The ID is looked up once per
// reader, and again after the broker did not know it (the topic was recreated).
func (f *follower) commit(ctx context.Context, offs map[string]map[int32]int64) error {
	r := f.r
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = r.topic
	r.mu.Lock()
	cl, adm, id := r.cl, r.adm, r.topicID
	for p, at := range offs[r.topic] {
		if _, ok := f.parts[p]; ok {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, at
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	r.mu.Unlock()
	if len(rt.Partitions) == 0 {
		return nil
	}
	if cl == nil {
		return errors.New("the shared reader has no client yet")
	}
	if id == (kadm.TopicID{}) {
		var err error
		if id, err = r.lookUpTopicID(ctx, adm); err != nil {
			return fmt.Errorf("committing for group %s: %w", f.group, err)
		}
	}
	rt.TopicID = id
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = f.group
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = commitError(resp)
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicID) {
			r.mu.Lock()
			if r.topicID == id {
				r.topicID = kadm.TopicID{}
			}
			r.mu.Unlock()
		}
		return fmt.Errorf("committing for group %s: %w", f.group, err)
	}
	if r.onEvt != nil {
		for _, p := range rt.Partitions {
			r.event(readerEvent{kind: "commit", group: f.group, partition: p.Partition, offset: p.Offset})
		}
	}
	return nil
}

// commitError is the first error of an OffsetCommit response, or nil.
func commitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
		}
	}
	return nil
}

// lookUpTopicID returns the ID of r's topic, looked up once and kept for the followers' commits.
func (r *sharedReader) lookUpTopicID(ctx context.Context, adm *kadm.Client) (kadm.TopicID, error) {
	meta, err := adm.Metadata(ctx, r.topic)
	if err != nil {
		return kadm.TopicID{}, fmt.Errorf("looking up the ID of topic %s: %w", r.topic, err)
	}
	td, ok := meta.Topics[r.topic]
	if !ok {
		return kadm.TopicID{}, fmt.Errorf("looking up the ID of topic %s: not in the metadata", r.topic)
	}
	if td.Err != nil {
		return kadm.TopicID{}, fmt.Errorf("looking up the ID of topic %s: %w", r.topic, td.Err)
	}
	r.mu.Lock()
	r.topicID = td.ID
	r.mu.Unlock()
	return td.ID, nil
}

// pause implements upstream: the lane's buffer of partition p is full.
func (f *follower) pause(_ string, p int32) { f.flow(p, true) }

// resume implements upstream: the lane's buffer of partition p has room again.
func (f *follower) resume(_ string, p int32) { f.flow(p, false) }

func (f *follower) flow(p int32, full bool) {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	fp := f.parts[p]
	if fp == nil {
		return
	}
	fp.full = full
	if fp.attached {
		if part := r.owned[p]; part != nil {
			r.applyFlowLocked(p, part)
		}
		return
	}
	if f.catchup != nil {
		f.catchup.flow(p, full)
		if !full {
			// Caught up already while full: rejoin now (rejoin orders itself after any push
			// of the catch-up client).
			go f.catchup.rejoin(p)
		}
	}
}

// dropIdleCatchUpLocked closes f's catch-up client once it reads nothing. Call with r.mu held.
func (f *follower) dropIdleCatchUpLocked() {
	if f.catchup == nil || f.catchup.reading() > 0 {
		return
	}
	go f.takeCatchUpLocked().close()
}

// takeCatchUpLocked detaches f's catch-up client (nil for none) from f and from the reader's
// count, for the caller to close outside r.mu. Call with r.mu held.
func (f *follower) takeCatchUpLocked() *catchUp {
	cu := f.catchup
	if cu != nil {
		f.catchup = nil
		f.r.detached--
	}
	return cu
}

// catchUp is a follower's own client for the partitions it is behind the reader on: it assigns
// them directly (no group), hands the lane their records from the follower's position, and gives
// each back to the reader once it reached the reader's position.
type catchUp struct {
	f      *follower
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	parts  map[int32]bool // guarded by f.r.mu
}

func newCatchUp(f *follower) *catchUp {
	r := f.r
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.WithLogger(kzap.New(f.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
		kgo.FetchMaxBytes(r.cfg.fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(r.cfg.fetchMaxPartitionBytes),
		kgo.FetchMaxWait(r.cfg.fetchMaxWait),
		kgo.MaxConcurrentFetches(r.cfg.maxConcurrentFetches),
		// A position below the log start (retention deleted it) starts at the log start.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, r.kopts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	c := &catchUp{f: f, cl: cl, cancel: cancel, done: make(chan struct{}), parts: map[int32]bool{}}
	if err != nil {
		// The reader runs with the same options, so this does not happen; the partitions stay
		// with a catch-up that never reads, and the lane's status shows no progress.
		f.logger.Error("creating a catch-up client", zap.Error(err))
		close(c.done)
		return c
	}
	go c.run(ctx)
	return c
}

// add starts reading p from offset. Call with f.r.mu held.
func (c *catchUp) add(p int32, offset int64, full bool) {
	c.parts[p] = true
	if c.cl == nil {
		return
	}
	c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.f.r.topic: {p: kgo.NewOffset().At(offset)}})
	c.flow(p, full)
}

// remove stops reading p. Call with f.r.mu held.
func (c *catchUp) remove(p int32) {
	delete(c.parts, p)
	if c.cl != nil {
		c.cl.RemoveConsumePartitions(map[string][]int32{c.f.r.topic: {p}})
		c.cl.ResumeFetchPartitions(map[string][]int32{c.f.r.topic: {p}})
	}
}

// reading counts the partitions c reads. Call with f.r.mu held.
func (c *catchUp) reading() int { return len(c.parts) }

func (c *catchUp) flow(p int32, full bool) {
	if c.cl == nil {
		return
	}
	tp := map[string][]int32{c.f.r.topic: {p}}
	if full {
		c.cl.PauseFetchPartitions(tp)
	} else {
		c.cl.ResumeFetchPartitions(tp)
	}
}

func (c *catchUp) close() {
	c.cancel()
	<-c.done
	if c.cl != nil {
		c.cl.Close()
	}
}

func (c *catchUp) run(ctx context.Context) {
	defer close(c.done)
	for {
		fs := c.cl.PollRecords(ctx, c.f.r.cfg.maxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				c.hand(ctx, p.Partition, p.Records, p.HighWatermark)
			}
		})
	}
}

// hand charges recs to the follower's own account and hands the lane the ones at or after its
// position on p, then gives p back to the reader when the follower reached the reader.
func (c *catchUp) hand(ctx context.Context, p int32, recs []*kgo.Record, hwm int64) {
	f, r := c.f, c.f.r
	srs := make([]*sharedRecord, 0, len(recs))
	for _, rec := range recs {
		size := recordBytes(rec)
		for {
			ok, retry := f.bytes.Acquire(size)
			if ok {
				break
			}
			select {
			case <-ctx.Done():
				f.bytes.StopWaiting()
				for _, sr := range srs {
					sr.unref()
				}
				return
			case <-retry:
			}
		}
		srs = append(srs, newSharedRecord(rec, size, f.bytes))
	}
	f.pushMu.Lock()
	r.mu.Lock()
	fp := f.parts[p]
	var sel []*kgo.Record
	if fp != nil && !fp.attached && c.parts[p] && f.catchup == c {
		for _, sr := range srs {
			if sr.rec.Offset >= fp.next {
				sr.ref()
				sel = append(sel, &sr.rec)
			}
		}
		if len(sel) > 0 {
			fp.next = sel[len(sel)-1].Offset + 1
		}
	}
	r.mu.Unlock()
	if len(sel) > 0 {
		f.lane.push(r.topic, p, sel, hwm)
	}
	f.pushMu.Unlock()
	for _, sr := range srs {
		sr.unref()
	}
	c.rejoin(p)
}

// rejoin gives p back to the reader once the follower's position reached the reader's and its
// lane has room.
func (c *catchUp) rejoin(p int32) {
	// After any records the catch-up client chose reached the lane: the reader hands on only
	// what follows them.
	c.f.pushMu.Lock()
	defer c.f.pushMu.Unlock()
	c.f.r.mu.Lock()
	defer c.f.r.mu.Unlock()
	c.rejoinLocked(p)
}

// rejoinLocked is rejoin with f.pushMu and f.r.mu held.
func (c *catchUp) rejoinLocked(p int32) {
	f, r := c.f, c.f.r
	fp, part := f.parts[p], r.owned[p]
	if fp == nil || part == nil || fp.attached || fp.full || f.catchup != c || fp.next < part.cursor {
		return
	}
	c.remove(p)
	fp.attached = true
	part.attached[f] = fp
	r.applyFlowLocked(p, part)
	r.event(readerEvent{kind: "rejoin", group: f.group, partition: p, offset: fp.next})
	r.m.catchUps.WithLabelValues("rejoin").Inc()
	f.logger.Info("lane caught up with the shared reader", zap.Int32("partition", p), zap.Int64("offset", fp.next))
	f.dropIdleCatchUpLocked()
}
