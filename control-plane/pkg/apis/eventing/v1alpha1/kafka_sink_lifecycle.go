package v1alpha1

import (
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// The conditions of a KafkaSink; Ready is True once every other one is True. The names are those
// Knative's Kafka sink reports, so dashboards and `kubectl wait` keep working.
const (
	// ConditionReady is the sink's overall readiness.
	ConditionReady = apis.ConditionReady

	// ConditionConfigParsed is True once the spec and the auth Secret it names were read and are
	// usable.
	ConditionConfigParsed apis.ConditionType = "ConfigParsed"

	// ConditionTopicReady is True once the topic exists: created by the sink when it owns it,
	// else found.
	ConditionTopicReady apis.ConditionType = "TopicReady"

	// ConditionConfigMapUpdated is True once the sink's routing-contract entry is published in the
	// contract ConfigMaps.
	ConditionConfigMapUpdated apis.ConditionType = "ConfigMapUpdated"

	// ConditionDataPlaneAvailable is True once every ingress instance has applied the contract
	// generation holding the sink's entry.
	ConditionDataPlaneAvailable apis.ConditionType = "DataPlaneAvailable"

	// ConditionProbeSucceeded is True once every ingress instance reports that it serves the sink:
	// its producer is up and its topic exists, so an event posted now is written.
	ConditionProbeSucceeded apis.ConditionType = "ProbeSucceeded"

	// ConditionAddressable is True once status.address holds the sink's URL.
	ConditionAddressable apis.ConditionType = "Addressable"
)

// TopicOwnerAnnotation in status.annotations says who owns the topic: TopicOwnerController when
// the sink created it and deletes it with itself, TopicOwnerExternal otherwise. Knative's Kafka
// sink writes the same annotation.
const (
	TopicOwnerAnnotation = "eventing.knative.dev/topic.owner"
	TopicOwnerController = "kafkasink-controller"
	TopicOwnerExternal   = "external"
)

// Reasons the Mark* methods set.
const (
	// ReasonTopicCreated explains a True TopicReady for an owned topic.
	ReasonTopicCreated = "TopicCreated"
	// ReasonTopicExternal explains a True TopicReady for a topic the sink does not own.
	ReasonTopicExternal = "TopicExternal"
	// ReasonEmptyURL explains a False Addressable.
	ReasonEmptyURL = "EmptyURL"
)

var kafkaSinkConditions = apis.NewLivingConditionSet(
	ConditionConfigParsed,
	ConditionTopicReady,
	ConditionConfigMapUpdated,
	ConditionDataPlaneAvailable,
	ConditionProbeSucceeded,
	ConditionAddressable,
)

// GetConditionSet returns the conditions Ready depends on. Part of duckv1.KRShaped.
func (*KafkaSink) GetConditionSet() apis.ConditionSet {
	return kafkaSinkConditions
}

// IsReady reports whether the status describes the current generation and Ready is True.
func (ks *KafkaSink) IsReady() bool {
	return ks.Status.ObservedGeneration == ks.Generation && ks.Status.IsReady()
}

func (s *KafkaSinkStatus) manage() apis.ConditionManager {
	return kafkaSinkConditions.Manage(s)
}

// IsReady reports whether Ready is True, whatever generation the status describes.
func (s *KafkaSinkStatus) IsReady() bool {
	return s.manage().IsHappy()
}

// GetCondition returns the condition of type t, or nil.
func (s *KafkaSinkStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return s.manage().GetCondition(t)
}

// InitializeConditions sets every condition that is not set yet to Unknown.
func (s *KafkaSinkStatus) InitializeConditions() {
	s.manage().InitializeConditions()
}

// MarkConfigParsed marks ConfigParsed True.
func (s *KafkaSinkStatus) MarkConfigParsed() {
	s.manage().MarkTrue(ConditionConfigParsed)
}

// MarkConfigFailed marks ConfigParsed False.
func (s *KafkaSinkStatus) MarkConfigFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(ConditionConfigParsed, reason, messageFormat, messageA...)
}

// MarkTopicReady marks TopicReady True and records in status.annotations who owns topic.
func (s *KafkaSinkStatus) MarkTopicReady(topic string, owned bool) {
	if owned {
		s.setTopicOwner(TopicOwnerController)
		s.manage().MarkTrueWithReason(ConditionTopicReady, ReasonTopicCreated, "topic %q is ready", topic)
		return
	}
	s.setTopicOwner(TopicOwnerExternal)
	s.manage().MarkTrueWithReason(ConditionTopicReady, ReasonTopicExternal, "using existing topic %q", topic)
}

func (s *KafkaSinkStatus) setTopicOwner(owner string) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[TopicOwnerAnnotation] = owner
}

// MarkTopicFailed marks TopicReady False.
func (s *KafkaSinkStatus) MarkTopicFailed(reason, messageFormat string, messageA ...any) {
	s.manage().MarkFalse(ConditionTopicReady, reason, messageFormat, messageA...)
}

// MarkConfigMapUpdated marks ConfigMapUpdated True: the contract entry is published.
func (s *KafkaSinkStatus) MarkConfigMapUpdated() {
	s.manage().MarkTrue(ConditionConfigMapUpdated)
}

// MarkConfigMapUnknown marks ConfigMapUpdated Unknown: the contract entry is not published yet.
func (s *KafkaSinkStatus) MarkConfigMapUnknown(reason, messageFormat string, messageA ...any) {
	s.manage().MarkUnknown(ConditionConfigMapUpdated, reason, messageFormat, messageA...)
}

// MarkDataPlaneAvailable marks DataPlaneAvailable True.
func (s *KafkaSinkStatus) MarkDataPlaneAvailable() {
	s.manage().MarkTrue(ConditionDataPlaneAvailable)
}

// MarkDataPlaneUnknown marks DataPlaneAvailable Unknown: the data plane was not reached or has
// not applied the sink's entry yet.
func (s *KafkaSinkStatus) MarkDataPlaneUnknown(reason, messageFormat string, messageA ...any) {
	s.manage().MarkUnknown(ConditionDataPlaneAvailable, reason, messageFormat, messageA...)
}

// MarkProbeSucceeded marks ProbeSucceeded True: the ingress serves the sink.
func (s *KafkaSinkStatus) MarkProbeSucceeded() {
	s.manage().MarkTrue(ConditionProbeSucceeded)
}

// MarkProbeUnknown marks ProbeSucceeded Unknown: the ingress does not serve the sink yet.
func (s *KafkaSinkStatus) MarkProbeUnknown(reason, messageFormat string, messageA ...any) {
	s.manage().MarkUnknown(ConditionProbeSucceeded, reason, messageFormat, messageA...)
}

// SetAddress publishes url as status.address and the only entry of status.addresses and marks
// Addressable True; a nil url clears both and marks Addressable False.
func (s *KafkaSinkStatus) SetAddress(url *apis.URL) {
	if url == nil {
		s.Address = nil
		s.Addresses = nil
		s.manage().MarkFalse(ConditionAddressable, ReasonEmptyURL, "the sink has no URL yet")
		return
	}
	name := url.Scheme
	addr := duckv1.Addressable{Name: &name, URL: url.DeepCopy()}
	s.Address = &addr
	s.Addresses = []duckv1.Addressable{*addr.DeepCopy()}
	s.manage().MarkTrue(ConditionAddressable)
}
