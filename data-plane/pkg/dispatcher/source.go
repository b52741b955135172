package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
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

// groupSource fetches one egress's topic as a member of the egress's consumer group, with
// cooperative-sticky balancing and no autocommit: the lane decides what is committed.
//
// Start offsets: a partition with a committed offset resumes there. A partition without one
// starts at the end of the partition as it is when the assignment arrives (as Knative's Kafka
// broker starts new trigger groups at "latest") — but resolved to an exact offset in
// AdjustFetchOffsetsFn and committed by the lane right away, so that an event sent once the
// egress reports Ready is never skipped by a later, lazier "latest". Out-of-range committed offsets
// reset to the start of the partition (at least once).
type groupSource struct {
	logger  *zap.Logger
	topic   string
	group   string
	servers []string
	kopts   []kgo.Opt
	cfg     *config
	sink    partitionSink

	cl  *kgo.Client // set by run once the topic exists; guarded by mu until then
	adm *kadm.Client

	mu      sync.Mutex
	reason  string
	message string
	joined  bool
	pending map[topicPartition]bool // assigned, start offset not resolved yet
}

func newGroupSource(logger *zap.Logger, topic, group string, servers []string, kopts []kgo.Opt, cfg *config) *groupSource {
	return &groupSource{
		logger:  logger,
		topic:   topic,
		group:   group,
		servers: servers,
		kopts:   kopts,
		cfg:     cfg,
		reason:  ReasonJoiningGroup,
		message: "waiting for the topic",
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

// run waits for the topic, joins the group and feeds the sink until ctx ends. It returns the
// client, which the caller closes after the lane committed (nil if it never got that far).
func (s *groupSource) run(ctx context.Context) *kgo.Client {
	if !s.waitTopic(ctx) {
		return nil
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.servers...),
		kgo.WithLogger(kzap.New(s.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
		kgo.ConsumerGroup(s.group),
		kgo.ConsumeTopics(s.topic),
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
			return cl
		}
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.logger.Warn("fetching", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				s.sink.push(p.Topic, p.Partition, p.Records, p.HighWatermark)
			}
		})
		cl.AllowRebalance()
	}
}

// waitTopic waits until the topic exists, reporting TopicNotFound meanwhile.
func (s *groupSource) waitTopic(ctx context.Context) bool {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.servers...),
		kgo.WithLogger(kzap.New(s.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	}, s.kopts...)...)
	if err != nil {
		s.setPhase(ReasonKafkaUnavailable, err.Error())
		return false
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		topics, err := adm.ListTopics(tctx, s.topic)
		cancel()
		switch {
		case err != nil:
			s.setPhase(ReasonKafkaUnavailable, err.Error())
		case topics.Has(s.topic) && topics[s.topic].Err == nil:
			return true
		case topics.Has(s.topic) && !errors.Is(topics[s.topic].Err, kerr.UnknownTopicOrPartition):
			s.setPhase(ReasonKafkaUnavailable, topics[s.topic].Err.Error())
		default:
			s.setPhase(ReasonTopicNotFound, fmt.Sprintf("topic %q does not exist", s.topic))
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(s.cfg.retryInterval):
		}
	}
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

// adjust fixes the start offset of every newly assigned partition without a committed offset to
// the partition's current end, then hands the partitions to the lane.
func (s *groupSource) adjust(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var missing []string
	for t, ps := range offs {
		for _, o := range ps {
			if o.EpochOffset().Offset < 0 {
				missing = append(missing, t)
				break
			}
		}
	}
	var ends kadm.ListedOffsets
	if len(missing) > 0 {
		var err error
		ends, err = s.adm.ListEndOffsets(ctx, missing...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("listing end offsets of %v: %w", missing, err)
		}
	}
	var starts []partitionStart
	for t, ps := range offs {
		for p, o := range ps {
			start := partitionStart{topic: t, partition: p, offset: o.EpochOffset().Offset}
			if start.offset < 0 {
				end, ok := ends.Lookup(t, p)
				if !ok {
					return nil, fmt.Errorf("no end offset listed for %s/%d", t, p)
				}
				start.offset, start.unsettled = end.Offset, true
				ps[p] = kgo.NewOffset().At(end.Offset)
			}
			starts = append(starts, start)
		}
	}
	for _, st := range starts {
		s.logger.Info("partition start offset", zap.String("topic", st.topic), zap.Int32("partition", st.partition),
			zap.Int64("offset", st.offset), zap.Bool("resolvedFromEnd", st.unsettled))
	}
	s.sink.assign(starts)
	s.mu.Lock()
	for _, st := range starts {
		delete(s.pending, topicPartition{st.topic, st.partition})
	}
	s.mu.Unlock()
	return offs, nil
}

func (s *groupSource) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.forget(revoked)
	s.sink.revoke(ctx, revoked, false)
}

func (s *groupSource) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.forget(lost)
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
