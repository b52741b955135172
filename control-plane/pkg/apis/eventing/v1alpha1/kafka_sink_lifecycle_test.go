package v1alpha1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestKafkaSinkImplementsDuckTypes(t *testing.T) {
	for _, d := range []duck.Implementable{&duckv1.Addressable{}, &duckv1.KResource{}} {
		if err := duck.VerifyType(&KafkaSink{}, d); err != nil {
			t.Errorf("KafkaSink does not implement %T: %v", d, err)
		}
	}
}

func TestKafkaSinkGetGroupVersionKind(t *testing.T) {
	if got, want := (&KafkaSink{}).GetGroupVersionKind().String(), "eventing.knative.dev/v1alpha1, Kind=KafkaSink"; got != want {
		t.Errorf("GetGroupVersionKind() = %q, want %q", got, want)
	}
}

// TestKafkaSinkIsReadyOnlyWhenEveryConditionIs walks a status through the Mark* methods in the
// order the reconciler calls them: Ready stays short of True until the last one.
func TestKafkaSinkIsReadyOnlyWhenEveryConditionIs(t *testing.T) {
	ks := &KafkaSink{}
	ks.Status.InitializeConditions()
	steps := []func(s *KafkaSinkStatus){
		func(s *KafkaSinkStatus) { s.MarkConfigParsed() },
		func(s *KafkaSinkStatus) { s.MarkTopicReady("orders", true) },
		func(s *KafkaSinkStatus) { s.MarkConfigMapUpdated() },
		func(s *KafkaSinkStatus) { s.MarkDataPlaneAvailable() },
		func(s *KafkaSinkStatus) { s.MarkProbeSucceeded() },
	}
	for i, step := range steps {
		step(&ks.Status)
		if ks.Status.IsReady() {
			t.Fatalf("Ready after step %d of %d", i+1, len(steps)+1)
		}
	}
	ks.Status.SetAddress(apis.HTTP("kafka-sink-ingress.knative-eventing.svc.cluster.local"))
	if !ks.IsReady() {
		t.Fatalf("not Ready after every step: %+v", ks.Status.Conditions)
	}
	if got := ks.Status.Annotations[TopicOwnerAnnotation]; got != TopicOwnerController {
		t.Errorf("topic owner = %q, want %q", got, TopicOwnerController)
	}
	if got := ks.Status.Address.URL.String(); got != "http://kafka-sink-ingress.knative-eventing.svc.cluster.local" || len(ks.Status.Addresses) != 1 {
		t.Errorf("address = %s, addresses = %v", got, ks.Status.Addresses)
	}

	ks.Status.MarkTopicFailed("TopicNotFound", "gone")
	if ks.Status.IsReady() {
		t.Error("Ready with TopicReady False")
	}
	if c := ks.Status.GetCondition(ConditionReady); c.Status != corev1.ConditionFalse || c.Reason != "TopicNotFound" {
		t.Errorf("Ready = %+v, want False with the topic's reason", c)
	}
	ks.Status.SetAddress(nil)
	if ks.Status.Address != nil || ks.Status.Addresses != nil {
		t.Error("SetAddress(nil) kept an address")
	}
}

func TestMarkTopicReadyRecordsAnExternalOwner(t *testing.T) {
	var s KafkaSinkStatus
	s.InitializeConditions()
	s.MarkTopicReady("orders", false)
	if got := s.Annotations[TopicOwnerAnnotation]; got != TopicOwnerExternal {
		t.Errorf("topic owner = %q, want %q", got, TopicOwnerExternal)
	}
	if c := s.GetCondition(ConditionTopicReady); c.Reason != ReasonTopicExternal {
		t.Errorf("TopicReady reason = %q, want %q", c.Reason, ReasonTopicExternal)
	}
}
