package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
)

// Reasons a resource is not served, as Status reports them besides the kafkaconn.Reason of a
// Secret that is missing or refused.
const (
	ReasonProducerUnavailable = "ProducerUnavailable"
	ReasonTopicUnknown        = "TopicUnknown"
	ReasonTopicNotFound       = "TopicNotFound"
	ReasonTopicCheckFailed    = "TopicCheckFailed"
)

// producer is the Kafka client of one cluster, shared by every resource whose topics live there.
type producer struct {
	client *kgo.Client
	logger *zap.Logger

	// topics holds the last topic check: topic → topicCheck.
	topics sync.Map

	// users counts the requests producing with the client; closing is set once Apply replaced
	// it. See acquire.
	users   atomic.Int64
	closing atomic.Bool
}

type topicCheck struct {
	exists bool
	err    error
}

// newProducer creates the client for r's cluster reached with sec: acks from all in-sync
// replicas, idempotent, never creating topics.
func (i *Ingress) newProducer(r *contract.Resource, sec *kafkaconn.Security) (*producer, error) {
	base, err := kafkaconn.Opts(r.BootstrapServers, sec)
	if err != nil {
		return nil, err
	}
	logger := i.logger.With(zap.Strings("bootstrapServers", kafkaconn.Servers(r.BootstrapServers)), zap.Stringer("security", sec))
	cl, err := kgo.NewClient(append(base,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(i.cfg.linger),
		kgo.MaxBufferedBytes(int(i.cfg.maxBufferedBytes)),
		kgo.WithLogger(kzap.New(logger.Named("kgo"), kzap.Level(kgoLogLevel(logger)))),
		kgo.WithHooks(requestHook{produce: i.metrics.produceRequests}),
	)...)
	if err != nil {
		return nil, err
	}
	return &producer{client: cl, logger: logger}, nil
}

// kgoLogLevel keeps franz-go's chatty debug logs out unless the logger wants debug.
func kgoLogLevel(l *zap.Logger) kgo.LogLevel {
	if l.Core().Enabled(zap.DebugLevel) {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelInfo
}

// acquire marks a request as producing with p, so that close waits for it; it returns false
// once p is closing, and the request takes the producer of the current snapshot instead.
//
// The race with close, step by step: acquire adds itself to users, then reads closing; close
// sets closing, then reads users. Whichever runs second sees the other: either acquire sees
// closing and backs out, or close sees the user and waits for its release. Both are
// sequentially consistent atomics, so no interleaving lets a request use a closed client.
func (p *producer) acquire() bool {
	p.users.Add(1)
	if p.closing.Load() {
		p.users.Add(-1)
		return false
	}
	return true
}

// release ends a request's use of p.
func (p *producer) release() { p.users.Add(-1) }

// close waits for the requests using the client (bounded by ctx), flushes the records it holds
// and closes it.
func (p *producer) close(ctx context.Context) error {
	p.closing.Store(true)
	for p.users.Load() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
	err := p.client.Flush(ctx)
	p.client.Close()
	if err != nil {
		return fmt.Errorf("flushing kafka producer: %w", err)
	}
	return nil
}

// checkTopics asks Kafka whether topics exist and remembers the answers for topicStatus.
func (p *producer) checkTopics(ctx context.Context, timeout time.Duration, topics []string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	details, err := kadm.NewClient(p.client).ListTopics(ctx, topics...)
	for _, t := range topics {
		c := topicCheck{err: err}
		if err == nil {
			d, ok := details[t]
			switch {
			case !ok:
				c.err = kerr.UnknownTopicOrPartition
			case d.Err != nil:
				c.err = d.Err
			default:
				c.exists = true
			}
		}
		if prev, ok := p.topics.Swap(t, c); !ok || prev.(topicCheck).exists != c.exists {
			p.logger.Debug("Checked topic", zap.String("topic", t), zap.Bool("exists", c.exists), zap.Error(c.err))
		}
	}
}

// topicStatus reports whether the last check found r's topic, or Kafka refused r's credentials.
func (p *producer) topicStatus(r *contract.Resource) contract.ServingStatus {
	topic := r.Topic
	v, ok := p.topics.Load(topic)
	if !ok {
		return contract.ServingStatus{Reason: ReasonTopicUnknown, Message: fmt.Sprintf("topic %q has not been checked yet", topic)}
	}
	c := v.(topicCheck)
	if reason, msg, refused := kafkaauth.Refused(r, c.err); refused {
		return contract.ServingStatus{Reason: string(reason), Message: msg}
	}
	switch {
	case c.exists:
		return contract.ServingStatus{Ready: true}
	case errors.Is(c.err, kerr.UnknownTopicOrPartition):
		return contract.ServingStatus{Reason: ReasonTopicNotFound, Message: fmt.Sprintf("topic %q does not exist", topic)}
	default:
		return contract.ServingStatus{Reason: ReasonTopicCheckFailed, Message: fmt.Sprintf("checking topic %q: %v", topic, c.err)}
	}
}

// refused says why r is not served when the last topic check found its cluster refusing r's
// credentials: a request for r is then answered 503 at once rather than after ProduceTimeout.
func (p *producer) refused(r *contract.Resource) (string, bool) {
	v, ok := p.topics.Load(r.Topic)
	if !ok {
		return "", false
	}
	_, msg, refused := kafkaauth.Refused(r, v.(topicCheck).err)
	return msg, refused
}
