// Command controller runs knkafka's reconcilers: Kafka-class Brokers, their Triggers,
// KafkaChannels, KafkaSources and KafkaSinks, which share one contract store and one view of the
// data plane.
package main

import (
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"knkafka.dev/control-plane/pkg/reconciler/broker"
	"knkafka.dev/control-plane/pkg/reconciler/kafkachannel"
	"knkafka.dev/control-plane/pkg/reconciler/kafkasink"
	"knkafka.dev/control-plane/pkg/reconciler/kafkasource"
	"knkafka.dev/control-plane/pkg/reconciler/trigger"
)

func main() {
	shared := &collaborators{}
	sharedmain.MainWithContext(signals.NewContext(), "knkafka-controller",
		withCollaborators(shared, broker.NewController, func(c *collaborators) broker.Deps {
			return broker.Deps{Kafka: broker.KafkaFrom(c.kafka), Contract: c.store, DataPlane: c.dataPlane, IngressHost: c.brokerIngressHost}
		}),
		withCollaborators(shared, trigger.NewController, func(c *collaborators) trigger.Deps {
			return trigger.Deps{Kafka: broker.KafkaFrom(c.kafka), Contract: c.store, DataPlane: c.dataPlane}
		}),
		withCollaborators(shared, kafkachannel.NewController, func(c *collaborators) kafkachannel.Deps {
			return kafkachannel.Deps{Kafka: kafkachannel.KafkaFrom(c.kafka), Contract: c.store, DataPlane: c.dataPlane}
		}),
		withCollaborators(shared, kafkasource.NewController, func(c *collaborators) kafkasource.Deps {
			return kafkasource.Deps{Kafka: kafkasource.KafkaFrom(c.kafka), Contract: c.store, DataPlane: c.dataPlane}
		}),
		withCollaborators(shared, kafkasink.NewController, func(c *collaborators) kafkasink.Deps {
			return kafkasink.Deps{Kafka: kafkasink.KafkaFrom(c.kafka), Contract: c.store, DataPlane: c.dataPlane, IngressHost: c.sinkIngressHost}
		}),
	)
}
