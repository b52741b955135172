package kafkachannel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

// KafkaFrom serves clusters from a client cache.
func KafkaFrom(clients *kafka.Clients) KafkaFunc {
	return func(servers []string, sec *kafkaconn.Security) (Kafka, error) {
		admin, err := clients.Admin(servers, sec)
		if err != nil {
			return nil, err
		}
		adm, err := clients.Get(servers, sec)
		if err != nil {
			return nil, err
		}
		return &cluster{Admin: admin, adm: adm}, nil
	}
}

// cluster adds UpdateTopicConfig to kafka.Admin. It belongs in package kafka once a second
// reconciler needs it.
type cluster struct {
	*kafka.Admin
	adm *kadm.Client
}

// UpdateTopicConfig describes the topic's configs and incrementally sets those that differ from
// configs. A topic the cluster does not know yet (created a moment ago, its configs not yet
// propagated to the broker that answers) was just created with configs, so there is nothing to do.
func (c *cluster) UpdateTopicConfig(ctx context.Context, topic string, configs map[string]string) (bool, error) {
	described, err := c.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("describing the configs of topic %q: %w", topic, err)
	}
	rc, err := described.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describing the configs of topic %q: %w", topic, withMessage(err, rc.ErrMessage))
	}
	current := make(map[string]string, len(rc.Configs))
	for _, c := range rc.Configs {
		current[c.Key] = c.MaybeValue()
	}
	var alter []kadm.AlterConfig
	for _, key := range slices.Sorted(maps.Keys(configs)) {
		if value := configs[key]; current[key] != value {
			alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: key, Value: &value})
		}
	}
	if len(alter) == 0 {
		return false, nil
	}
	resps, err := c.adm.AlterTopicConfigs(ctx, alter, topic)
	if err != nil {
		return false, fmt.Errorf("altering the configs of topic %q: %w", topic, err)
	}
	resp, err := resps.On(topic, nil)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return false, fmt.Errorf("altering the configs of topic %q: %w", topic, withMessage(err, resp.ErrMessage))
	}
	return true, nil
}

// withMessage adds the broker's explanation to err, keeping err in the chain.
func withMessage(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
