// Package kafka manages the Kafka side of brokers and channels through franz-go's kadm: Admin
// creates, checks and deletes topics and deletes consumer groups on one cluster, and Clients
// caches one client per cluster (keyed by bootstrap servers) for the reconcilers.
//
// Callers branch on errors with the classifiers in errors.go (IsUnavailable,
// IsPartitionsMismatch, IsInvalidTopicSpec, IsUnauthorized, IsGroupNotEmpty), never by matching
// strings.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// TopicSpec is the topic a broker or channel needs.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Config holds topic configs such as "retention.ms"; nil values are left to the cluster.
	Config map[string]*string
}

// MinInSyncReplicasKey is the topic config that says how many replicas must have a record before
// an acks=all produce succeeds.
const MinInSyncReplicasKey = "min.insync.replicas"

// CreateConfigs are the configs a topic of spec is created with: spec.Config, plus
// min.insync.replicas = min(2, replication factor) when the replication factor is above 1 and
// spec.Config does not set it. Without it the cluster's default (1) applies, and acks=all — which
// the ingress uses before it answers 202 — succeeds with the leader alone once the followers fall
// out of sync: one broker failure away from losing accepted events.
func CreateConfigs(spec TopicSpec) map[string]*string {
	if spec.ReplicationFactor <= 1 {
		return spec.Config
	}
	if _, set := spec.Config[MinInSyncReplicasKey]; set {
		return spec.Config
	}
	out := make(map[string]*string, len(spec.Config)+1)
	maps.Copy(out, spec.Config)
	v := strconv.Itoa(min(2, int(spec.ReplicationFactor)))
	out[MinInSyncReplicasKey] = &v
	return out
}

// Admin manages topics and consumer groups on one Kafka cluster.
type Admin struct {
	cl  *kgo.Client
	adm *kadm.Client
	log *zap.Logger
}

// NewAdmin returns an Admin over cl, which it does not close. A nil log discards logs.
func NewAdmin(cl *kgo.Client, log *zap.Logger) *Admin {
	if log == nil {
		log = zap.NewNop()
	}
	return &Admin{cl: cl, adm: kadm.NewClient(cl), log: log}
}

// Ping asks the cluster for its brokers: it fails when the cluster cannot be reached or refuses
// the client's TLS or SASL settings (classify the error with kafkaconn.ReasonOf).
func (a *Admin) Ping(ctx context.Context) error {
	if _, err := a.adm.BrokerMetadata(ctx); err != nil {
		return fmt.Errorf("asking the cluster for its brokers: %w", err)
	}
	return nil
}

// EnsureTopic creates spec's topic unless it exists. An existing topic is accepted when it has at
// least spec.Partitions partitions; otherwise EnsureTopic returns a *PartitionsError. Its other
// settings (replication, configs) are left as they are: they may have been tuned by an operator.
func (a *Admin) EnsureTopic(ctx context.Context, spec TopicSpec) error {
	resp, err := a.adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, CreateConfigs(spec), spec.Name)
	switch {
	case err == nil:
		a.log.Info("created topic", zap.String("topic", spec.Name),
			zap.Int32("partitions", resp.NumPartitions), zap.Int16("replicationFactor", resp.ReplicationFactor))
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return a.checkPartitions(ctx, spec)
	default:
		return fmt.Errorf("creating topic %q: %w", spec.Name, withMessage(err, resp.ErrMessage))
	}
}

// checkPartitions checks an existing topic's partition count. The controller said the topic
// exists, but a broker's metadata lags a creation by a moment (it answers
// UNKNOWN_TOPIC_OR_PARTITION meanwhile), so that answer is retried for a bounded time.
func (a *Admin) checkPartitions(ctx context.Context, spec TopicSpec) error {
	const settle = 10 * time.Second
	deadline := time.Now().Add(settle)
	partitions, err := a.partitions(ctx, spec.Name)
	for errors.Is(err, kerr.UnknownTopicOrPartition) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		partitions, err = a.partitions(ctx, spec.Name)
	}
	if err != nil {
		return err
	}
	if partitions < spec.Partitions {
		return &PartitionsError{Topic: spec.Name, Have: partitions, Want: spec.Partitions}
	}
	return nil
}

// TopicExists reports whether the topic exists.
func (a *Admin) TopicExists(ctx context.Context, name string) (bool, error) {
	_, err := a.partitions(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return false, nil
	default:
		return false, err
	}
}

// partitions asks the cluster for the topic's partition count. It bypasses the client's metadata
// cache (which kadm's ListTopics uses) so that a topic created or deleted a moment ago by someone
// else is seen as it is now.
func (a *Admin) partitions(ctx context.Context, name string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return 0, fmt.Errorf("describing topic %q: %w", name, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != name {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, fmt.Errorf("describing topic %q: %w", name, err)
		}
		return int32(len(t.Partitions)), nil
	}
	return 0, fmt.Errorf("describing topic %q: %w", name, kerr.UnknownTopicOrPartition)
}

// DeleteTopic deletes the topic; a topic that does not exist is already deleted.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	resp, err := a.adm.DeleteTopic(ctx, name)
	switch {
	case err == nil:
		a.log.Info("deleted topic", zap.String("topic", name))
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return nil
	default:
		return fmt.Errorf("deleting topic %q: %w", name, withMessage(err, resp.ErrMessage))
	}
}

// DeleteConsumerGroups deletes the groups and their committed offsets; a group that does not exist
// is already deleted. A group that still has members is not deleted (IsGroupNotEmpty).
func (a *Admin) DeleteConsumerGroups(ctx context.Context, groups ...string) error {
	if len(groups) == 0 {
		return nil
	}
	resps, err := a.adm.DeleteGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("deleting consumer groups %q: %w", groups, err)
	}
	var errs []error
	for _, g := range groups {
		r, ok := resps[g]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("deleting consumer group %q: not in the response", g))
		case r.Err == nil:
			a.log.Info("deleted consumer group", zap.String("group", g))
		case errors.Is(r.Err, kerr.GroupIDNotFound):
		default:
			errs = append(errs, fmt.Errorf("deleting consumer group %q: %w", g, withMessage(r.Err, r.ErrMessage)))
		}
	}
	return errors.Join(errs...)
}

// withMessage adds the broker's explanation to err, keeping err in the chain.
func withMessage(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
