package v1beta1

import (
	"context"

	"github.com/google/uuid"
	"knative.dev/pkg/apis"
)

const (
	// DefaultConsumerGroupPrefix starts the consumer group SetDefaults gives a source without
	// one; a random UUID follows, as in Knative's Kafka source.
	DefaultConsumerGroupPrefix = "knative-kafka-source-"
	// DefaultInitialOffset is spec.initialOffset when unset.
	DefaultInitialOffset = OffsetLatest
	// DefaultConsumers is spec.consumers when unset.
	DefaultConsumers int32 = 1
	// DefaultOrdering is spec.ordering when unset.
	DefaultOrdering = Ordered
)

// SetDefaults fills the unset spec fields: a fresh consumer group, initialOffset latest, one
// consumer, ordered delivery; it also defaults the namespace of the sink and dead-letter sink
// references to the source's.
func (ks *KafkaSource) SetDefaults(ctx context.Context) {
	ctx = apis.WithinParent(ctx, ks.ObjectMeta)
	s := &ks.Spec
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = DefaultConsumerGroupPrefix + uuid.NewString()
	}
	if s.InitialOffset == "" {
		s.InitialOffset = DefaultInitialOffset
	}
	if s.Consumers == nil {
		n := DefaultConsumers
		s.Consumers = &n
	}
	if s.Ordering == nil {
		o := DefaultOrdering
		s.Ordering = &o
	}
	s.Sink.SetDefaults(ctx)
	s.Delivery.SetDefaults(ctx)
}
