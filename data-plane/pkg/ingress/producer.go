package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
)

// producer is the Kafka client of one cluster, shared by every resource whose topics live there.
type producer struct {
	client *kgo.Client
	logger *zap.Logger

	// topics holds the last topic check: topic → topicCheck.
	topics sync.Map
}

type topicCheck struct {
	exists bool
	err    error
}

// newProducer creates the client for r's cluster: acks from all in-sync replicas, idempotent,
// never creating topics.
func (i *Ingress) newProducer(r *contract.Resource) (*producer, error) {
	if len(r.BootstrapServers) == 0 {
		return nil, errors.New("no bootstrap servers")
	}
	// TODO(auth): r.Auth names a Secret with SASL/TLS settings; reading it needs the Kubernetes
	// client, which the caller should resolve into kgo options. Until then the client connects
	// without credentials.
	logger := i.logger.With(zap.Strings("bootstrapServers", r.BootstrapServers))
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(r.BootstrapServers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(i.cfg.linger),
		kgo.MaxBufferedBytes(int(i.cfg.maxBufferedBytes)),
		kgo.WithLogger(kzap.New(logger.Named("kgo"), kzap.Level(kgoLogLevel(logger)))),
	)
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

// close flushes the records the client holds, bounded by ctx, and closes it.
func (p *producer) close(ctx context.Context) error {
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

// topicStatus reports whether the last check found topic.
func (p *producer) topicStatus(topic string) contract.ServingStatus {
	v, ok := p.topics.Load(topic)
	if !ok {
		return contract.ServingStatus{Reason: "TopicUnknown", Message: fmt.Sprintf("topic %q has not been checked yet", topic)}
	}
	c := v.(topicCheck)
	switch {
	case c.exists:
		return contract.ServingStatus{Ready: true}
	case errors.Is(c.err, kerr.UnknownTopicOrPartition):
		return contract.ServingStatus{Reason: "TopicNotFound", Message: fmt.Sprintf("topic %q does not exist", topic)}
	default:
		return contract.ServingStatus{Reason: "TopicCheckFailed", Message: fmt.Sprintf("checking topic %q: %v", topic, c.err)}
	}
}
