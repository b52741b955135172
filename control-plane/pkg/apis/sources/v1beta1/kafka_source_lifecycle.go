package v1beta1

import (
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// The conditions of a KafkaSource. Ready is True once every other one is True.
const (
	// KafkaSourceConditionReady is the source's overall readiness.
	KafkaSourceConditionReady = apis.ConditionReady

	// KafkaSourceConditionSinkProvided is True once spec.sink resolved to a URI (status.sinkUri).
	// The name is Knative's, as in its Kafka source.
	KafkaSourceConditionSinkProvided apis.ConditionType = "SinkProvided"

	// KafkaSourceConditionConfigParsed is True once the spec could be turned into the source's
	// routing contract entry; False names what is not supported or not valid (for example SASL
	// or TLS, which knkafka does not support for sources yet).
	KafkaSourceConditionConfigParsed apis.ConditionType = "ConfigParsed"

	// KafkaSourceConditionDeadLetterSinkResolved is True when spec.delivery.deadLetterSink
	// resolved to a URL, or when no dead-letter sink is configured.
	KafkaSourceConditionDeadLetterSinkResolved apis.ConditionType = "DeadLetterSinkResolved"

	// KafkaSourceConditionConsumerGroup is True once every dispatcher serves the source: its
	// consumer group joined and its start offsets are committed, so no record written from then
	// on is missed. The name is the condition Knative's Kafka source reports its consumer group in.
	KafkaSourceConditionConsumerGroup apis.ConditionType = "ConsumerGroup"
)

// Reasons the Mark* methods set on conditions that carry one of their own.
const (
	// ReasonSinkEmpty explains an Unknown SinkProvided: the sink resolved to an empty URI.
	ReasonSinkEmpty = "SinkEmpty"
	// ReasonDeadLetterSinkNotConfigured explains a True DeadLetterSinkResolved without a sink.
	ReasonDeadLetterSinkNotConfigured = "DeadLetterSinkNotConfigured"
)

var kafkaSourceConditions = apis.NewLivingConditionSet(
	KafkaSourceConditionSinkProvided,
	KafkaSourceConditionConfigParsed,
	KafkaSourceConditionDeadLetterSinkResolved,
	KafkaSourceConditionConsumerGroup,
)

// GetConditionSet returns the conditions Ready depends on. Part of duckv1.KRShaped.
func (*KafkaSource) GetConditionSet() apis.ConditionSet {
	return kafkaSourceConditions
}

// IsReady reports whether the status describes the current generation and Ready is True.
func (ks *KafkaSource) IsReady() bool {
	return ks.Status.ObservedGeneration == ks.Generation && ks.Status.IsReady()
}

// CloudEventAttributes are the type and sources of the events ks emits from records that are not
// CloudEvents already: one entry per topic. They are what status.ceAttributes reports.
func (ks *KafkaSource) CloudEventAttributes() []duckv1.CloudEventAttributes {
	if len(ks.Spec.Topics) == 0 {
		return nil
	}
	prefix := KafkaEventSource(ks.Namespace, ks.Name)
	out := make([]duckv1.CloudEventAttributes, 0, len(ks.Spec.Topics))
	for _, topic := range ks.Spec.Topics {
		out = append(out, duckv1.CloudEventAttributes{Type: KafkaEventType, Source: prefix + "#" + topic})
	}
	return out
}

func (s *KafkaSourceStatus) manage() apis.ConditionManager {
	return kafkaSourceConditions.Manage(s)
}

// IsReady reports whether Ready is True, whatever generation the status describes.
func (s *KafkaSourceStatus) IsReady() bool {
	return s.manage().IsHappy()
}

// GetCondition returns the condition of type t, or nil.
func (s *KafkaSourceStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return s.manage().GetCondition(t)
}

// InitializeConditions sets every condition that is not set yet to Unknown.
func (s *KafkaSourceStatus) InitializeConditions() {
	s.manage().InitializeConditions()
}

// MarkSink records the resolved sink in status.sinkUri and marks SinkProvided True; an empty
// URI clears status.sinkUri and marks SinkProvided Unknown.
func (s *KafkaSourceStatus) MarkSink(uri *apis.URL) {
	if uri == nil || uri.IsEmpty() {
		s.SinkURI = nil
		s.manage().MarkUnknown(KafkaSourceConditionSinkProvided, ReasonSinkEmpty, "the sink resolved to an empty URI")
		return
	}
	s.SinkURI = uri.DeepCopy()
	s.manage().MarkTrue(KafkaSourceConditionSinkProvided)
}

// MarkNoSink clears status.sinkUri and marks SinkProvided False.
func (s *KafkaSourceStatus) MarkNoSink(reason, messageFormat string, messageA ...any) {
	s.SinkURI = nil
	s.manage().MarkFalse(KafkaSourceConditionSinkProvided, reason, messageFormat, messageA...)
}

// MarkConfigParsed marks ConfigParsed True.
func (s *KafkaSourceStatus) MarkConfigParsed() {
	s.manage().MarkTrue(KafkaSourceConditionConfigParsed)
}

// MarkConfigFailed marks ConfigParsed False.
func (s *KafkaSourceStatus) MarkConfigFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaSourceConditionConfigParsed, reason, messageFormat, messageA...)
}

// MarkDeadLetterSinkResolved marks DeadLetterSinkResolved True, naming the sink in the message.
func (s *KafkaSourceStatus) MarkDeadLetterSinkResolved(uri *apis.URL) {
	s.manage().MarkTrueWithReason(KafkaSourceConditionDeadLetterSinkResolved, "DeadLetterSinkResolved",
		"dead-letter sink %s", uri)
}

// MarkDeadLetterSinkNotConfigured marks DeadLetterSinkResolved True: with no sink there is
// nothing to resolve.
func (s *KafkaSourceStatus) MarkDeadLetterSinkNotConfigured() {
	s.manage().MarkTrueWithReason(KafkaSourceConditionDeadLetterSinkResolved,
		ReasonDeadLetterSinkNotConfigured, "No dead letter sink is configured.")
}

// MarkDeadLetterSinkFailed marks DeadLetterSinkResolved False.
func (s *KafkaSourceStatus) MarkDeadLetterSinkFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaSourceConditionDeadLetterSinkResolved, reason, messageFormat, messageA...)
}

// MarkConsumerGroupReady marks ConsumerGroup True: the data plane serves the source.
func (s *KafkaSourceStatus) MarkConsumerGroupReady() {
	s.manage().MarkTrue(KafkaSourceConditionConsumerGroup)
}

// MarkConsumerGroupUnknown marks ConsumerGroup Unknown: the data plane has not confirmed it
// serves the source's current entry yet.
func (s *KafkaSourceStatus) MarkConsumerGroupUnknown(reason, messageFormat string, messageA ...any) {
	s.manage().MarkUnknown(KafkaSourceConditionConsumerGroup, reason, messageFormat, messageA...)
}

// MarkConsumerGroupFailed marks ConsumerGroup False: the source cannot be served as it is.
func (s *KafkaSourceStatus) MarkConsumerGroupFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(KafkaSourceConditionConsumerGroup, reason, messageFormat, messageA...)
}
