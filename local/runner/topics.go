package runner

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

// topicTimeout bounds the work on one topic, so an unreachable cluster does not stall reloads.
const topicTimeout = 15 * time.Second

// topics creates the topics of plans and deletes, once no plan needs them, the ones it created
// or found: the topics of removed Brokers and KafkaChannels. External topics never reach it.
type topics struct {
	clients *kafka.Clients
	logger  *zap.Logger
	// ensured are the topics known to exist, by topicKey, with the Security they were reached with.
	ensured map[string]ensuredTopic
}

type ensuredTopic struct {
	Topic
	sec *kafkaconn.Security
}

// securityFunc gives the Security of the clients of the Broker or KafkaChannel with UID owner.
type securityFunc func(owner string) (*kafkaconn.Security, error)

func newTopics(clients *kafka.Clients, logger *zap.Logger) *topics {
	return &topics{clients: clients, logger: logger, ensured: map[string]ensuredTopic{}}
}

func topicKey(t Topic) string {
	servers := slices.Clone(t.Servers)
	slices.Sort(servers)
	return strings.Join(servers, ",") + "|" + t.Spec.Name
}

// ensure creates the topics of want that were not ensured before with the same spec, with the
// replication factor capped to the cluster's broker count, and waits until the cluster serves
// them. Each is reached with its owner's Security (security). It returns the errors by owner UID.
func (t *topics) ensure(ctx context.Context, want []Topic, security securityFunc) map[string]error {
	errs := map[string]error{}
	brokers := map[string]int{} // broker count by cluster
	for _, topic := range want {
		key := topicKey(topic)
		if prev, ok := t.ensured[key]; ok && reflect.DeepEqual(prev.Spec, topic.Spec) {
			continue
		}
		sec, err := security(topic.Owner)
		if err == nil {
			err = t.ensureOne(ctx, topic, sec, brokers)
		}
		if err != nil {
			t.logger.Error("topic not ready", zap.String("topic", topic.Spec.Name), zap.Strings("bootstrapServers", topic.Servers), zap.Error(err))
			errs[topic.Owner] = err
			continue
		}
		t.ensured[key] = ensuredTopic{Topic: topic, sec: sec}
	}
	return errs
}

func (t *topics) ensureOne(ctx context.Context, topic Topic, sec *kafkaconn.Security, brokers map[string]int) error {
	ctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	admin, err := t.clients.Admin(topic.Servers, sec)
	if err != nil {
		return err
	}
	cluster := kafkaconn.Key(topic.Servers, sec)
	n, ok := brokers[cluster]
	if !ok {
		adm, err := t.clients.Get(topic.Servers, sec)
		if err != nil {
			return err
		}
		meta, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("reading the cluster's brokers: %w", err)
		}
		n = len(meta.Brokers)
		brokers[cluster] = n
	}
	spec := topic.Spec
	if n > 0 && int(spec.ReplicationFactor) > n {
		t.logger.Info("capping the replication factor to the cluster's brokers", zap.String("topic", spec.Name),
			zap.Int16("requested", spec.ReplicationFactor), zap.Int("brokers", n))
		spec.ReplicationFactor = int16(n)
	}
	if err := admin.EnsureTopic(ctx, spec); err != nil {
		return err
	}
	// The creating request returns before every broker knows the topic; wait so the ingress and
	// the consumers find it at once.
	for {
		exists, err := admin.TopicExists(ctx, spec.Name)
		if exists {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %q was created but is not served yet (last error: %v): %w", spec.Name, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// prune deletes the ensured topics that want no longer has and whose owner is gone.
func (t *topics) prune(ctx context.Context, want []Topic, owners map[string]bool) {
	keep := map[string]bool{}
	for _, topic := range want {
		keep[topicKey(topic)] = true
	}
	for _, key := range slices.Sorted(maps.Keys(t.ensured)) {
		if keep[key] {
			continue
		}
		topic := t.ensured[key]
		if owners[topic.Owner] {
			continue // its owner still exists, maybe with another topic or a bad config
		}
		if err := t.deleteOne(ctx, topic.Topic, topic.sec); err != nil {
			t.logger.Error("deleting the topic of a removed resource", zap.String("topic", topic.Spec.Name), zap.Error(err))
			continue // tried again on the next change
		}
		delete(t.ensured, key)
	}
}

func (t *topics) deleteOne(ctx context.Context, topic Topic, sec *kafkaconn.Security) error {
	ctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	admin, err := t.clients.Admin(topic.Servers, sec)
	if err != nil {
		return err
	}
	return admin.DeleteTopic(ctx, topic.Spec.Name)
}
