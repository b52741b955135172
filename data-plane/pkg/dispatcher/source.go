package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
	"knkafka.dev/data-plane/pkg/kafkaauth"
)

// Reasons an egress is not ready yet, as Status reports them.
const (
	ReasonTopicNotFound    = "TopicNotFound"
	ReasonKafkaUnavailable = "KafkaUnavailable"
	ReasonJoiningGroup     = "JoiningGroup"
	ReasonFixingOffsets    = "FixingStartOffsets"
	ReasonInvalidEgress    = "InvalidEgress"
	ReasonEgressFailed     = "EgressFailed"
)

// groupSource fetches one egress's topics (one for a Trigger or Subscription, several for a
// KafkaSource) as a member of the egress's consumer group, with cooperative-sticky balancing and
// no autocommit: the lane decides what is committed.
//
// Start offsets: a partition with a committed offset resumes there. A partition without one
// starts at the end of the partition as it is when the assignment arrives (as Knative's Kafka
// broker starts new trigger groups at "latest"), or at its log start offset for a KafkaSource
// with initialOffset earliest — either way resolved to an exact offset in AdjustFetchOffsetsFn
// and committed by the lane right away, so that an event sent once the egress reports Ready is
// never skipped by a later, lazier "latest", and a restart or another replica starts exactly
// there too. Out-of-range committed offsets reset to the start of the partition (at least once).
type groupSource struct {
	logger  *zap.Logger
	res     *contract.Resource
	topics  []string
	group   string
	initial contract.InitialOffset
	// kopts are the seed brokers and the TLS and SASL options of the resource's cluster.
	kopts []kgo.Opt
	cfg   *config
	sink  partitionSink
	// bytes is the egress's account on the dispatcher's memory budget: records are pushed only
	// once their bytes are acquired there, and the lane releases them as it finishes them.
	bytes *membudget.Account

	// pushMu guards unpushed and serializes pushes with revocations: while the source waits for
	// budget with rebalancing allowed, a revocation drops the unpushed records of the partitions
	// it takes away, so they are never pushed to a lane that no longer owns them.
	pushMu   sync.Mutex
	unpushed []fetched

	cl  *kgo.Client // set by run once the topic exists; guarded by mu until then
	adm *kadm.Client

	mu      sync.Mutex
	reason  string
	message string
	joined  bool
	pending map[topicPartition]bool // assigned, start offset not resolved yet
}

func newGroupSource(logger *zap.Logger, res *contract.Resource, eg *contract.Egress, kopts []kgo.Opt, cfg *config) *groupSource {
	return &groupSource{
		logger:  logger,
		res:     res,
		topics:  res.ReadTopics(),
		group:   eg.ConsumerGroup,
		initial: eg.InitialOffset,
		kopts:   kopts,
		cfg:     cfg,
		reason:  ReasonJoiningGroup,
		message: "waiting for the topics",
		pending: map[topicPartition]bool{},
	}
}

func (s *groupSource) setPhase(reason, message string) {
	s.mu.Lock()
	s.reason, s.message = reason, message
	s.mu.Unlock()
}

// phase reports whether the source has joined the group with every assigned partition's start
// offset resolved, and otherwise why not.
func (s *groupSource) phase() (settled bool, reason, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joined && len(s.pending) == 0 {
		return true, "", ""
	}
	if s.joined {
		return false, ReasonFixingOffsets, fmt.Sprintf("resolving start offsets of %d partitions", len(s.pending))
	}
	return false, s.reason, s.message
}

// run waits for the topics, joins the group and feeds the sink until ctx ends. It returns the
// client, which the caller closes after the lane committed (nil if it never got that far).
func (s *groupSource) run(ctx context.Context) *kgo.Client {
	if !s.waitTopic(ctx) {
		return nil
	}
	opts := append([]kgo.Opt{
		kgo.WithLogger(kzap.New(s.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
		kgo.ConsumerGroup(s.group),
		kgo.ConsumeTopics(s.topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// Rebalance callbacks run only between polls, so a revoke never races a push.
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.AdjustFetchOffsetsFn(s.adjust),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		kgo.FetchMaxBytes(s.cfg.fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(s.cfg.fetchMaxPartitionBytes),
		kgo.FetchMaxWait(s.cfg.fetchMaxWait),
		// One fetch in flight or buffered at a time: what franz-go holds for this client beside
		// the budget stays one response (docs/reliability.md, "Memory").
		kgo.MaxConcurrentFetches(s.cfg.maxConcurrentFetches),
	}, s.kopts...)
	if s.cfg.sessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(s.cfg.sessionTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		s.setPhase(ReasonKafkaUnavailable, err.Error())
		return nil
	}
	s.mu.Lock()
	s.cl, s.adm = cl, kadm.NewClient(cl)
	s.reason, s.message = ReasonJoiningGroup, "joining consumer group "+s.group
	s.mu.Unlock()
	for {
		fs := cl.PollRecords(ctx, s.cfg.maxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			cl.AllowRebalance()
			s.dropUnpushed()
			return cl
		}
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.logger.Warn("fetching", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		})
		s.pushMu.Lock()
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				s.unpushed = append(s.unpushed, fetched{topic: p.Topic, partition: p.Partition, recs: p.Records, hwm: p.HighWatermark})
			}
		})
		s.pushMu.Unlock()
		if !s.pushAll(ctx, cl) {
			cl.AllowRebalance()
			s.dropUnpushed()
			return cl
		}
		cl.AllowRebalance()
	}
}

// fetched is the records of one partition that a poll returned and the lane has not been handed.
type fetched struct {
	topic     string
	partition int32
	recs      []*kgo.Record
	hwm       int64
	detached  bool // recs are copies that no longer hold on to franz-go's fetch
}

// detachUnpushed replaces the unpushed records by copies before the source waits: a record of
// a fetch keeps the whole fetch in memory (see detach), so a waiting egress would otherwise hold
// a fetch's worth — many times its records when they were compressed — instead of the rest of
// one poll. Call with pushMu held.
func (s *groupSource) detachUnpushed() {
	for i := range s.unpushed {
		f := &s.unpushed[i]
		if f.detached {
			continue
		}
		recs := make([]*kgo.Record, len(f.recs))
		for j, r := range f.recs {
			recs[j] = detach(r)
		}
		f.recs, f.detached = recs, true
	}
}

// pushAll hands the unpushed records to the lane as their bytes are acquired from the budget,
// in offset order per partition. While the budget refuses, the source polls nothing and pauses
// fetching its topics — franz-go then drops the fetch it buffered and fetches nothing more, so a
// waiting egress holds only the rest of one poll beside the budget — and it allows rebalancing,
// so that a long wait never holds up the group. It returns false when ctx ended first.
func (s *groupSource) pushAll(ctx context.Context, cl *kgo.Client) bool {
	paused := false
	defer func() {
		if paused {
			// Topic pauses are independent of the lane's partition pauses: this undoes only ours.
			cl.ResumeFetchTopics(s.topics...)
		}
	}()
	for {
		retry := s.pushAdmitted()
		if retry == nil {
			return true
		}
		cl.AllowRebalance()
		// franz-go drops a paused topic's buffered fetch only when it is polled: poll once at
		// once, and once more after the fetch that was in flight has landed.
		var landed <-chan time.Time
		if !paused {
			cl.PauseFetchTopics(s.topics...)
			paused = true
			s.dropBuffered(ctx, cl)
			landed = time.After(2*s.cfg.fetchMaxWait + 100*time.Millisecond)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return false
			case <-landed:
				landed = nil
				s.dropBuffered(ctx, cl)
			case <-retry:
				break wait
			}
		}
	}
}

// dropBuffered polls for a moment with every topic of the source paused, which makes franz-go drop
// the fetch it buffered; it fetches those records again once resumed. Anything the poll returns
// (nothing, as every topic is paused) joins the unpushed records.
func (s *groupSource) dropBuffered(ctx context.Context, cl *kgo.Client) {
	pctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	fs := cl.PollRecords(pctx, s.cfg.maxPollRecords)
	cancel()
	s.pushMu.Lock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			s.unpushed = append(s.unpushed, fetched{topic: p.Topic, partition: p.Partition, recs: p.Records, hwm: p.HighWatermark})
		}
	})
	s.detachUnpushed()
	s.pushMu.Unlock()
	cl.AllowRebalance()
}

// pushAdmitted pushes the unpushed records the budget admits. It returns nil when none is left,
// else a channel closed when the budget may admit more.
func (s *groupSource) pushAdmitted() <-chan struct{} {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	for len(s.unpushed) > 0 {
		f := &s.unpushed[0]
		n := 0
		var retry <-chan struct{}
		for i, r := range f.recs {
			ok, ch := s.bytes.Acquire(recordBytes(r))
			if !ok {
				retry = ch
				break
			}
			if !f.detached {
				f.recs[i] = detach(r)
			}
			n++
		}
		if n > 0 {
			s.sink.push(f.topic, f.partition, f.recs[:n:n], f.hwm)
			f.recs = f.recs[n:]
		}
		if retry != nil {
			s.detachUnpushed()
			return retry
		}
		s.unpushed[0] = fetched{}
		s.unpushed = s.unpushed[1:]
	}
	s.unpushed = nil
	return nil
}

// dropUnpushed forgets the records not pushed; nothing was acquired for them.
func (s *groupSource) dropUnpushed() {
	s.pushMu.Lock()
	s.unpushed = nil
	s.pushMu.Unlock()
	s.bytes.StopWaiting()
}

// dropRevoked forgets the unpushed records of partitions taken away.
func (s *groupSource) dropRevoked(tps map[string][]int32) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	kept := s.unpushed[:0]
	for _, f := range s.unpushed {
		if !slices.Contains(tps[f.topic], f.partition) {
			kept = append(kept, f)
		}
	}
	clear(s.unpushed[len(kept):])
	s.unpushed = kept
	if len(kept) == 0 {
		s.bytes.StopWaiting()
	}
}

// waitTopic waits until every topic exists, reporting TopicNotFound with the missing ones
// meanwhile.
func (s *groupSource) waitTopic(ctx context.Context) bool {
	return waitTopics(ctx, s.logger, s.res, s.topics, s.kopts, s.cfg.retryInterval, s.setPhase)
}

// waitTopics waits until every topic exists, reporting through setPhase why not meanwhile:
// TopicNotFound with the missing ones, the kafkaconn reason of refused credentials, or
// KafkaUnavailable. It returns false when ctx ended first.
func waitTopics(ctx context.Context, logger *zap.Logger, res *contract.Resource, topics []string, kopts []kgo.Opt, retry time.Duration, setPhase func(reason, message string)) bool {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.WithLogger(kzap.New(logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	}, kopts...)...)
	if err != nil {
		setPhase(ReasonKafkaUnavailable, err.Error())
		return false
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		listed, err := adm.ListTopics(tctx, topics...)
		cancel()
		if err == nil {
			err = checkTopics(topics, listed)
		}
		if err == nil {
			return true
		}
		setPhase(topicReasonOf(res, err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(retry):
		}
	}
}

// errTopicsNotFound lists topics that do not exist.
type errTopicsNotFound []string

func (e errTopicsNotFound) Error() string {
	if len(e) == 1 {
		return fmt.Sprintf("topic %q does not exist", e[0])
	}
	return fmt.Sprintf("topics %q do not exist", []string(e))
}

// checkTopics returns nil when every one of topics is listed without error, else the first
// other error or errTopicsNotFound naming the missing ones.
func checkTopics(topics []string, listed kadm.TopicDetails) error {
	var missing errTopicsNotFound
	for _, t := range topics {
		d, ok := listed[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, t)
		case d.Err != nil:
			return fmt.Errorf("topic %q: %w", t, d.Err)
		}
	}
	if len(missing) > 0 {
		return missing
	}
	return nil
}

// topicReasonOf gives the status of a failed topic check: TopicNotFound, the kafkaconn.Reason
// of credentials the cluster refused (with a message naming res's Secret and keys), or
// KafkaUnavailable.
func topicReasonOf(res *contract.Resource, err error) (reason, message string) {
	var missing errTopicsNotFound
	if errors.As(err, &missing) {
		return ReasonTopicNotFound, err.Error()
	}
	if r, msg, refused := kafkaauth.Refused(res, err); refused {
		return string(r), msg
	}
	return ReasonKafkaUnavailable, err.Error()
}

func (s *groupSource) onAssigned(_ context.Context, _ *kgo.Client, added map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joined = true
	for t, ps := range added {
		for _, p := range ps {
			s.pending[topicPartition{t, p}] = true
		}
	}
	s.logger.Info("partitions assigned", zap.String("group", s.group), zap.Any("partitions", added))
}

// adjust fixes the start offset of every newly assigned partition without a committed offset —
// its end, or its log start for OffsetEarliest — then hands the partitions to the lane.
func (s *groupSource) adjust(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	initial, err := s.initialOffsets(ctx, offs)
	if err != nil {
		return nil, err
	}
	var starts []partitionStart
	for t, ps := range offs {
		for p, o := range ps {
			start := partitionStart{topic: t, partition: p, offset: o.EpochOffset().Offset}
			if start.offset < 0 {
				listed, ok := initial.Lookup(t, p)
				if !ok {
					return nil, fmt.Errorf("no initial offset listed for %s/%d", t, p)
				}
				start.offset, start.unsettled = listed.Offset, true
				ps[p] = kgo.NewOffset().At(listed.Offset)
			}
			starts = append(starts, start)
		}
	}
	for _, st := range starts {
		s.logger.Info("partition start offset", zap.String("topic", st.topic), zap.Int32("partition", st.partition),
			zap.Int64("offset", st.offset), zap.Bool("resolved", st.unsettled))
	}
	s.sink.assign(starts)
	s.mu.Lock()
	for _, st := range starts {
		delete(s.pending, topicPartition{st.topic, st.partition})
	}
	s.mu.Unlock()
	return offs, nil
}

func countOffsets(offs map[string]map[int32]int64) int {
	n := 0
	for _, ps := range offs {
		n += len(ps)
	}
	return n
}

// uncommittedTopics lists the topics with a partition that has no committed offset.
func uncommittedTopics(offs map[string]map[int32]kgo.Offset) []string {
	var topics []string
	for t, ps := range offs {
		for _, o := range ps {
			if o.EpochOffset().Offset < 0 {
				topics = append(topics, t)
				break
			}
		}
	}
	return topics
}

// initialOffsets lists where the partitions of topics that have no committed offset start:
//
//   - On a topic the group has never committed for (a new group), the InitialOffset policy: the
//     end of each partition, or its log start for OffsetEarliest (exactly where Kafka's
//     auto.offset.reset would start, but fixed now so that it can be committed). The start of
//     every partition of the topic is committed right away — the ones assigned elsewhere too — so
//     a member that joins a moment later resumes from them rather than taking the group for an
//     old one (below).
//   - On a topic the group has committed for, a partition without a commit was added after the
//     group started (at Ready every partition's start is committed), so it starts at its log start:
//     every record on it is newer than the group, and starting at its end would skip the records
//     written before the group noticed the partition.
func (s *groupSource) initialOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (kadm.ListedOffsets, error) {
	topics := uncommittedTopics(assigned)
	if len(topics) == 0 {
		return nil, nil
	}
	committed, err := s.adm.FetchOffsets(ctx, s.group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %s: %w", s.group, err)
	}
	var fresh, grown []string
	for _, t := range topics {
		if len(committed[t]) > 0 {
			grown = append(grown, t)
		} else {
			fresh = append(fresh, t)
		}
	}
	policy := s.adm.ListEndOffsets
	if s.initial == contract.OffsetEarliest {
		policy = s.adm.ListStartOffsets
	}
	out := kadm.ListedOffsets{}
	for _, l := range []struct {
		topics []string
		list   func(context.Context, ...string) (kadm.ListedOffsets, error)
		fresh  bool
	}{{fresh, policy, true}, {grown, s.adm.ListStartOffsets, false}} {
		if len(l.topics) == 0 {
			continue
		}
		listed, err := l.list(ctx, l.topics...)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("listing start offsets of %v: %w", l.topics, err)
		}
		if l.fresh {
			s.commitFreshStarts(listed, assigned)
		}
		maps.Copy(out, listed)
	}
	if len(grown) > 0 {
		s.logger.Info("partitions new to an existing group start at their log start", zap.String("group", s.group), zap.Strings("topics", grown))
	}
	return out, nil
}

// commitFreshStarts commits the start offsets listed for topics the group had never committed
// for on every partition this member was not assigned and nobody committed meanwhile, so that all
// members of a new group start from one set of offsets. A failure is logged: the owner then fixes
// its own start when it is assigned the partition.
func (s *groupSource) commitFreshStarts(listed kadm.ListedOffsets, assigned map[string]map[int32]kgo.Offset) {
	offs := map[string]map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if _, mine := assigned[o.Topic][o.Partition]; mine || o.Err != nil {
			return
		}
		if offs[o.Topic] == nil {
			offs[o.Topic] = map[int32]int64{}
		}
		offs[o.Topic][o.Partition] = o.Offset
	})
	if len(offs) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Another member may have committed meanwhile (its own start, or progress): keep that.
		if committed, err := s.adm.FetchOffsets(ctx, s.group); err == nil {
			committed.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 {
					delete(offs[o.Topic], o.Partition)
				}
			})
		}
		if n := countOffsets(offs); n == 0 {
			return
		}
		if err := s.commit(ctx, offs); err != nil {
			s.logger.Warn("committing the start offsets of partitions assigned elsewhere", zap.String("group", s.group), zap.Error(err))
		}
	}()
}

func (s *groupSource) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.forget(revoked)
	s.dropRevoked(revoked)
	s.sink.revoke(ctx, revoked, false)
}

func (s *groupSource) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.forget(lost)
	s.dropRevoked(lost)
	s.sink.revoke(ctx, lost, true)
}

func (s *groupSource) forget(tps map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range tps {
		for _, p := range ps {
			delete(s.pending, topicPartition{t, p})
		}
	}
}

// commit implements upstream.
func (s *groupSource) commit(ctx context.Context, offs map[string]map[int32]int64) error {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl == nil {
		return errors.New("not a group member yet")
	}
	eos := make(map[string]map[int32]kgo.EpochOffset, len(offs))
	for t, ps := range offs {
		m := make(map[int32]kgo.EpochOffset, len(ps))
		for p, o := range ps {
			m[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		eos[t] = m
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, eos, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = fmt.Errorf("committing %s/%d: %w", t.Topic, p.Partition, err)
					return
				}
			}
		}
	})
	return cerr
}

func (s *groupSource) pause(topic string, partition int32) {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl != nil {
		cl.PauseFetchPartitions(map[string][]int32{topic: {partition}})
	}
}

func (s *groupSource) resume(topic string, partition int32) {
	s.mu.Lock()
	cl := s.cl
	s.mu.Unlock()
	if cl != nil {
		cl.ResumeFetchPartitions(map[string][]int32{topic: {partition}})
	}
}
