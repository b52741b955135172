package v1beta1

import (
	"context"

	"knative.dev/eventing/pkg/apis/messaging"
	"knative.dev/pkg/apis"
)

const (
	// DefaultNumPartitions is spec.numPartitions when the user leaves it unset.
	DefaultNumPartitions int32 = 1
	// DefaultReplicationFactor is spec.replicationFactor when the user leaves it unset.
	DefaultReplicationFactor int16 = 1
	// DefaultRetentionDuration is spec.retentionDuration when the user leaves it unset: one week,
	// Kafka's own default retention.
	DefaultRetentionDuration = "PT168H"
)

// ChannelDefaults are the values SetDefaults fills into a KafkaChannel spec. A zero field falls back
// to the matching package constant.
type ChannelDefaults struct {
	NumPartitions     int32
	ReplicationFactor int16
	RetentionDuration string
}

type channelDefaultsKey struct{}

// WithChannelDefaults returns a context whose KafkaChannels are defaulted with d instead of the
// package constants, for a webhook that reads its defaults from configuration.
func WithChannelDefaults(ctx context.Context, d ChannelDefaults) context.Context {
	return context.WithValue(ctx, channelDefaultsKey{}, d)
}

// ChannelDefaultsFromContext returns the defaults in effect for ctx: those given to
// WithChannelDefaults, completed with the package constants.
func ChannelDefaultsFromContext(ctx context.Context) ChannelDefaults {
	d, _ := ctx.Value(channelDefaultsKey{}).(ChannelDefaults)
	if d.NumPartitions <= 0 {
		d.NumPartitions = DefaultNumPartitions
	}
	if d.ReplicationFactor <= 0 {
		d.ReplicationFactor = DefaultReplicationFactor
	}
	if d.RetentionDuration == "" {
		d.RetentionDuration = DefaultRetentionDuration
	}
	return d
}

// SetDefaults fills the unset spec fields and records the subscribable duck version (v1) that
// Knative's subscription reconciler reads.
func (kc *KafkaChannel) SetDefaults(ctx context.Context) {
	if kc.Annotations == nil {
		kc.Annotations = map[string]string{}
	}
	if _, ok := kc.Annotations[messaging.SubscribableDuckVersionAnnotation]; !ok {
		kc.Annotations[messaging.SubscribableDuckVersionAnnotation] = "v1"
	}
	kc.Spec.SetDefaults(apis.WithinParent(ctx, kc.ObjectMeta))
}

// SetDefaults fills numPartitions, replicationFactor and retentionDuration when unset, and defaults
// the delivery's dead-letter sink reference (its namespace).
func (s *KafkaChannelSpec) SetDefaults(ctx context.Context) {
	d := ChannelDefaultsFromContext(ctx)
	if s.NumPartitions == 0 {
		s.NumPartitions = d.NumPartitions
	}
	if s.ReplicationFactor == 0 {
		s.ReplicationFactor = d.ReplicationFactor
	}
	if s.RetentionDuration == "" {
		s.RetentionDuration = d.RetentionDuration
	}
	s.Delivery.SetDefaults(ctx)
}
