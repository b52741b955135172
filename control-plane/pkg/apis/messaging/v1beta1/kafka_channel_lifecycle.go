package v1beta1

import (
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// The conditions of a KafkaChannel. Ready is True once every other one is True.
const (
	// KafkaChannelConditionReady is the channel's overall readiness.
	KafkaChannelConditionReady = apis.ConditionReady

	// KafkaChannelConditionTopicReady is True once the channel's Kafka topic exists.
	KafkaChannelConditionTopicReady apis.ConditionType = "TopicReady"

	// KafkaChannelConditionConfigParsed is True once the channel configuration (the
	// kafka-channel-config ConfigMap and its auth secret) was read and understood.
	KafkaChannelConditionConfigParsed apis.ConditionType = "ConfigParsed"

	// KafkaChannelConditionDataPlaneAvailable is True once the ingress serves the channel: its
	// routing contract entry is live, so events posted to the address land in the topic.
	KafkaChannelConditionDataPlaneAvailable apis.ConditionType = "DataPlaneAvailable"

	// KafkaChannelConditionAddressable is True once status.address holds a URL.
	KafkaChannelConditionAddressable apis.ConditionType = "Addressable"

	// KafkaChannelConditionChannelServiceReady is True once the <name>-kn-channel Service that gives
	// the channel its host name exists and points at the ingress.
	KafkaChannelConditionChannelServiceReady apis.ConditionType = "ChannelServiceReady"

	// KafkaChannelConditionDeadLetterSinkResolved is True when spec.delivery.deadLetterSink resolved
	// to a URL, or when no dead-letter sink is configured.
	KafkaChannelConditionDeadLetterSinkResolved apis.ConditionType = "DeadLetterSinkResolved"
)

// Reasons the Mark* methods set on True conditions that carry one.
const (
	// ReasonDeadLetterSinkNotConfigured explains a True DeadLetterSinkResolved without a sink.
	ReasonDeadLetterSinkNotConfigured = "DeadLetterSinkNotConfigured"
	// ReasonTopicReady explains a True TopicReady; the message names the topic.
	ReasonTopicReady = "TopicReady"
	// ReasonEmptyURL explains a False Addressable.
	ReasonEmptyURL = "EmptyURL"
)

var kafkaChannelConditions = apis.NewLivingConditionSet(
	KafkaChannelConditionTopicReady,
	KafkaChannelConditionConfigParsed,
	KafkaChannelConditionDataPlaneAvailable,
	KafkaChannelConditionAddressable,
	KafkaChannelConditionChannelServiceReady,
	KafkaChannelConditionDeadLetterSinkResolved,
)

// GetConditionSet returns the conditions Ready depends on. Part of duckv1.KRShaped.
func (*KafkaChannel) GetConditionSet() apis.ConditionSet {
	return kafkaChannelConditions
}

// IsReady reports whether the status describes the current generation and Ready is True.
func (kc *KafkaChannel) IsReady() bool {
	return kc.Status.ObservedGeneration == kc.Generation && kc.Status.IsReady()
}

func (s *KafkaChannelStatus) manage() apis.ConditionManager {
	return kafkaChannelConditions.Manage(s)
}

// IsReady reports whether Ready is True, whatever generation the status describes.
func (s *KafkaChannelStatus) IsReady() bool {
	return s.manage().IsHappy()
}

// GetCondition returns the condition of type t, or nil.
func (s *KafkaChannelStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return s.manage().GetCondition(t)
}

// InitializeConditions sets every condition that is not set yet to Unknown.
func (s *KafkaChannelStatus) InitializeConditions() {
	s.manage().InitializeConditions()
}

// MarkTopicReady marks TopicReady True, naming the topic in the message.
func (s *KafkaChannelStatus) MarkTopicReady(topic string) {
	s.manage().MarkTrueWithReason(KafkaChannelConditionTopicReady, ReasonTopicReady, "topic %s is ready", topic)
}

// MarkTopicFailed marks TopicReady False.
func (s *KafkaChannelStatus) MarkTopicFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaChannelConditionTopicReady, reason, messageFormat, messageA...)
}

// MarkConfigParsed marks ConfigParsed True.
func (s *KafkaChannelStatus) MarkConfigParsed() {
	s.manage().MarkTrue(KafkaChannelConditionConfigParsed)
}

// MarkConfigFailed marks ConfigParsed False.
func (s *KafkaChannelStatus) MarkConfigFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaChannelConditionConfigParsed, reason, messageFormat, messageA...)
}

// MarkDataPlaneAvailable marks DataPlaneAvailable True: the ingress serves the channel.
func (s *KafkaChannelStatus) MarkDataPlaneAvailable() {
	s.manage().MarkTrue(KafkaChannelConditionDataPlaneAvailable)
}

// MarkDataPlaneNotAvailable marks DataPlaneAvailable False: the ingress cannot serve the channel.
func (s *KafkaChannelStatus) MarkDataPlaneNotAvailable(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaChannelConditionDataPlaneAvailable, reason, messageFormat, messageA...)
}

// MarkDataPlaneUnknown marks DataPlaneAvailable Unknown: the ingress has not confirmed it serves
// the channel yet (for example, the contract was just written).
func (s *KafkaChannelStatus) MarkDataPlaneUnknown(reason, messageFormat string, messageA ...any) {
	s.manage().MarkUnknown(KafkaChannelConditionDataPlaneAvailable, reason, messageFormat, messageA...)
}

// MarkServiceReady marks ChannelServiceReady True.
func (s *KafkaChannelStatus) MarkServiceReady() {
	s.manage().MarkTrue(KafkaChannelConditionChannelServiceReady)
}

// MarkServiceFailed marks ChannelServiceReady False.
func (s *KafkaChannelStatus) MarkServiceFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaChannelConditionChannelServiceReady, reason, messageFormat, messageA...)
}

// MarkDeadLetterSinkResolved records the resolved dead-letter sink in status.deadLetterSinkUri and
// marks DeadLetterSinkResolved True.
func (s *KafkaChannelStatus) MarkDeadLetterSinkResolved(uri *apis.URL) {
	s.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: uri}
	s.manage().MarkTrue(KafkaChannelConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured clears the dead-letter sink from the status and marks
// DeadLetterSinkResolved True: with no sink there is nothing to resolve.
func (s *KafkaChannelStatus) MarkDeadLetterSinkNotConfigured() {
	s.DeliveryStatus = eventingduckv1.DeliveryStatus{}
	s.manage().MarkTrueWithReason(KafkaChannelConditionDeadLetterSinkResolved,
		ReasonDeadLetterSinkNotConfigured, "No dead letter sink is configured.")
}

// MarkDeadLetterSinkFailed clears the dead-letter sink from the status and marks
// DeadLetterSinkResolved False.
func (s *KafkaChannelStatus) MarkDeadLetterSinkFailed(reason, messageFormat string, messageA ...any) {
	s.DeliveryStatus = eventingduckv1.DeliveryStatus{}
	s.manage().MarkFalse(KafkaChannelConditionDeadLetterSinkResolved, reason, messageFormat, messageA...)
}

// SetAddress publishes url as status.address and the only entry of status.addresses and marks
// Addressable True; a nil url clears both and marks Addressable False.
func (s *KafkaChannelStatus) SetAddress(url *apis.URL) {
	if url == nil {
		s.Address = nil
		s.Addresses = nil
		s.manage().MarkFalse(KafkaChannelConditionAddressable, ReasonEmptyURL, "the channel has no URL yet")
		return
	}
	name := url.Scheme
	addr := duckv1.Addressable{Name: &name, URL: url.DeepCopy()}
	s.Address = &addr
	s.Addresses = []duckv1.Addressable{*addr.DeepCopy()}
	s.manage().MarkTrue(KafkaChannelConditionAddressable)
}
