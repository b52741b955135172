package broker

import (
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
)

// Conditions of a Kafka Broker besides Knative's Addressable and DeadLetterSinkResolved. The
// names are those of Knative's Kafka broker, so dashboards and `kubectl wait` keep working.
const (
	// ConditionConfigParsed is True once the broker config ConfigMap was read and is valid.
	ConditionConfigParsed apis.ConditionType = "ConfigParsed"
	// ConditionTopicReady is True once the broker's topic exists (created, or external and found).
	ConditionTopicReady apis.ConditionType = "TopicReady"
	// ConditionDataPlaneAvailable is True once every ingress instance serves the broker's current
	// contract entry.
	ConditionDataPlaneAvailable apis.ConditionType = "DataPlaneAvailable"
)

// ConditionSet is the Broker condition set this reconciler maintains. Knative's own set describes
// the channel-based MT broker (IngressReady, TriggerChannelReady, FilterReady, EventPoliciesReady);
// as Knative's Kafka broker does, we register ours instead with
// eventingv1.RegisterAlternateBrokerConditionSet. The registration is process-wide, which is right
// for a process that reconciles only Kafka-class Brokers.
var ConditionSet = apis.NewLivingConditionSet(
	ConditionConfigParsed,
	ConditionTopicReady,
	eventingv1.BrokerConditionDeadLetterSinkResolved,
	ConditionDataPlaneAvailable,
	eventingv1.BrokerConditionAddressable,
)

// RegisterConditionSet makes ConditionSet the Broker condition set of this process.
func RegisterConditionSet() { eventingv1.RegisterAlternateBrokerConditionSet(ConditionSet) }

func conditions(b *eventingv1.Broker) apis.ConditionManager {
	return b.GetConditionSet().Manage(&b.Status)
}
