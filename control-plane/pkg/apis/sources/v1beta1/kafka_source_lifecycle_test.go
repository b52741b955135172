package v1beta1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

var allConditions = []apis.ConditionType{
	KafkaSourceConditionSinkProvided,
	KafkaSourceConditionConfigParsed,
	KafkaSourceConditionDeadLetterSinkResolved,
	KafkaSourceConditionConsumerGroup,
}

var sinkURI = apis.HTTP("sink.ns.svc.cluster.local")

// markAllTrue drives every condition True through the Mark* methods the reconciler uses.
func markAllTrue(s *KafkaSourceStatus) {
	s.MarkSink(sinkURI)
	s.MarkConfigParsed()
	s.MarkDeadLetterSinkNotConfigured()
	s.MarkConsumerGroupReady()
}

func statuses(s *KafkaSourceStatus) map[apis.ConditionType]corev1.ConditionStatus {
	got := map[apis.ConditionType]corev1.ConditionStatus{}
	for _, c := range s.Conditions {
		got[c.Type] = c.Status
	}
	return got
}

func TestKafkaSourceInitializeConditions(t *testing.T) {
	var s KafkaSourceStatus
	s.InitializeConditions()
	want := map[apis.ConditionType]corev1.ConditionStatus{apis.ConditionReady: corev1.ConditionUnknown}
	for _, c := range allConditions {
		want[c] = corev1.ConditionUnknown
	}
	if diff := cmp.Diff(want, statuses(&s)); diff != "" {
		t.Errorf("conditions after InitializeConditions (-want +got):\n%s", diff)
	}
	if s.IsReady() {
		t.Error("IsReady() = true right after InitializeConditions")
	}
}

func TestKafkaSourceReadyOnlyWhenEveryConditionIsTrue(t *testing.T) {
	var s KafkaSourceStatus
	s.InitializeConditions()
	markAllTrue(&s)
	if !s.IsReady() {
		t.Fatalf("IsReady() = false with every condition True: %+v", s.Conditions)
	}
	if diff := cmp.Diff(sinkURI, s.SinkURI); diff != "" {
		t.Errorf("status.sinkUri (-want +got):\n%s", diff)
	}

	failures := []struct {
		name       string
		fail       func(*KafkaSourceStatus)
		cond       apis.ConditionType
		wantStatus corev1.ConditionStatus
		wantReason string
	}{
		{"no sink", func(s *KafkaSourceStatus) { s.MarkNoSink("NotFound", "no such service") },
			KafkaSourceConditionSinkProvided, corev1.ConditionFalse, "NotFound"},
		{"an empty sink", func(s *KafkaSourceStatus) { s.MarkSink(&apis.URL{}) },
			KafkaSourceConditionSinkProvided, corev1.ConditionUnknown, ReasonSinkEmpty},
		{"a nil sink", func(s *KafkaSourceStatus) { s.MarkSink(nil) },
			KafkaSourceConditionSinkProvided, corev1.ConditionUnknown, ReasonSinkEmpty},
		{"invalid config", func(s *KafkaSourceStatus) { s.MarkConfigFailed("SecurityNotSupported", "SASL") },
			KafkaSourceConditionConfigParsed, corev1.ConditionFalse, "SecurityNotSupported"},
		{"unresolvable dead-letter sink", func(s *KafkaSourceStatus) { s.MarkDeadLetterSinkFailed("NotFound", "gone") },
			KafkaSourceConditionDeadLetterSinkResolved, corev1.ConditionFalse, "NotFound"},
		{"consumer group joining", func(s *KafkaSourceStatus) { s.MarkConsumerGroupUnknown("JoiningGroup", "rebalancing") },
			KafkaSourceConditionConsumerGroup, corev1.ConditionUnknown, "JoiningGroup"},
		{"consumer group failed", func(s *KafkaSourceStatus) { s.MarkConsumerGroupFailed("TopicNotFound", "no topic") },
			KafkaSourceConditionConsumerGroup, corev1.ConditionFalse, "TopicNotFound"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			s := s.DeepCopy()
			f.fail(s)
			if s.IsReady() {
				t.Fatal("IsReady() = true after a failure")
			}
			c := s.GetCondition(f.cond)
			if c == nil || c.Status != f.wantStatus || c.Reason != f.wantReason {
				t.Errorf("%s = %+v, want status %s reason %s", f.cond, c, f.wantStatus, f.wantReason)
			}
			ready := s.GetCondition(apis.ConditionReady)
			if ready.Status != f.wantStatus || ready.Reason != f.wantReason {
				t.Errorf("Ready = %+v, want it to carry %s %s", ready, f.wantStatus, f.wantReason)
			}
			if f.cond == KafkaSourceConditionSinkProvided && s.SinkURI != nil {
				t.Errorf("status.sinkUri = %s, want it cleared", s.SinkURI)
			}
		})
	}
}

func TestKafkaSourceIsReadyOnlyForTheObservedGeneration(t *testing.T) {
	ks := &KafkaSource{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	ks.Status.InitializeConditions()
	markAllTrue(&ks.Status)
	ks.Status.ObservedGeneration = 1
	if ks.IsReady() {
		t.Error("IsReady() = true for a status of an older generation")
	}
	ks.Status.ObservedGeneration = 2
	if !ks.IsReady() {
		t.Error("IsReady() = false for a Ready status of the current generation")
	}
}

func TestKafkaSourceDeadLetterSinkResolvedNamesTheSink(t *testing.T) {
	var s KafkaSourceStatus
	s.MarkDeadLetterSinkResolved(apis.HTTP("dls.ns.svc.cluster.local"))
	c := s.GetCondition(KafkaSourceConditionDeadLetterSinkResolved)
	if c == nil || !c.IsTrue() || c.Message != "dead-letter sink http://dls.ns.svc.cluster.local" {
		t.Errorf("DeadLetterSinkResolved = %+v", c)
	}
}

func TestKafkaSourceCloudEventAttributesAreOnePerTopic(t *testing.T) {
	ks := &KafkaSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders"},
		Spec:       KafkaSourceSpec{Topics: []string{"a", "b"}},
	}
	want := []duckv1.CloudEventAttributes{
		{Type: "dev.knative.kafka.event", Source: "/apis/v1/namespaces/ns/kafkasources/orders#a"},
		{Type: "dev.knative.kafka.event", Source: "/apis/v1/namespaces/ns/kafkasources/orders#b"},
	}
	if diff := cmp.Diff(want, ks.CloudEventAttributes()); diff != "" {
		t.Errorf("CloudEventAttributes (-want +got):\n%s", diff)
	}
	if got := (&KafkaSource{}).CloudEventAttributes(); got != nil {
		t.Errorf("CloudEventAttributes without topics = %v, want nil", got)
	}
}

func TestKafkaSourceKRShaped(t *testing.T) {
	ks := &KafkaSource{Spec: KafkaSourceSpec{Topics: []string{"t"}}}
	if got := ks.GetGroupVersionKind().String(); got != "sources.knative.dev/v1beta1, Kind=KafkaSource" {
		t.Errorf("GVK = %s", got)
	}
	if ks.GetStatus() != &ks.Status.Status {
		t.Error("GetStatus does not return the status' duck")
	}
	if diff := cmp.Diff(ks.Spec, ks.GetUntypedSpec()); diff != "" {
		t.Errorf("GetUntypedSpec (-want +got):\n%s", diff)
	}
	if ks.GetConditionSet().GetTopLevelConditionType() != apis.ConditionReady {
		t.Error("the condition set's top-level condition is not Ready")
	}
	if Kind("KafkaSource").String() != "KafkaSource.sources.knative.dev" || Resource("kafkasources").String() != "kafkasources.sources.knative.dev" {
		t.Errorf("Kind/Resource = %s/%s", Kind("KafkaSource"), Resource("kafkasources"))
	}
}
