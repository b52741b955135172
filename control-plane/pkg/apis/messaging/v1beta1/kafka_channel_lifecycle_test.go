package v1beta1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

var allConditions = []apis.ConditionType{
	KafkaChannelConditionTopicReady,
	KafkaChannelConditionConfigParsed,
	KafkaChannelConditionDataPlaneAvailable,
	KafkaChannelConditionAddressable,
	KafkaChannelConditionChannelServiceReady,
	KafkaChannelConditionDeadLetterSinkResolved,
}

// markAllTrue drives every condition True through the Mark* methods a reconciler uses.
func markAllTrue(t *testing.T, s *KafkaChannelStatus) {
	t.Helper()
	s.MarkTopicReady("knative-messaging-kafka.ns.ch")
	s.MarkConfigParsed()
	s.MarkDataPlaneAvailable()
	s.SetAddress(mustURL(t, "http://ch-kn-channel.ns.svc.cluster.local"))
	s.MarkServiceReady()
	s.MarkDeadLetterSinkNotConfigured()
}

func conditionStatuses(s *KafkaChannelStatus) map[apis.ConditionType]corev1.ConditionStatus {
	got := map[apis.ConditionType]corev1.ConditionStatus{}
	for _, c := range s.Conditions {
		got[c.Type] = c.Status
	}
	return got
}

func TestKafkaChannelInitializeConditions(t *testing.T) {
	var s KafkaChannelStatus
	s.InitializeConditions()
	want := map[apis.ConditionType]corev1.ConditionStatus{apis.ConditionReady: corev1.ConditionUnknown}
	for _, c := range allConditions {
		want[c] = corev1.ConditionUnknown
	}
	if diff := cmp.Diff(want, conditionStatuses(&s)); diff != "" {
		t.Errorf("conditions after InitializeConditions (-want +got):\n%s", diff)
	}
	if s.IsReady() {
		t.Error("IsReady() = true right after InitializeConditions")
	}
}

func TestKafkaChannelReadyOnlyWhenEveryConditionIsTrue(t *testing.T) {
	var s KafkaChannelStatus
	s.InitializeConditions()
	markAllTrue(t, &s)
	if !s.IsReady() {
		t.Fatalf("IsReady() = false with every condition True: %+v", s.Conditions)
	}

	// Each failure alone takes Ready down, with the failing condition's reason.
	failures := []struct {
		name string
		fail func(*KafkaChannelStatus)
		cond apis.ConditionType
	}{
		{"topic", func(s *KafkaChannelStatus) { s.MarkTopicFailed("TopicCreateFailed", "creating %s", "t") }, KafkaChannelConditionTopicReady},
		{"config", func(s *KafkaChannelStatus) { s.MarkConfigFailed("NoBootstrapServers", "no servers") }, KafkaChannelConditionConfigParsed},
		{"data plane", func(s *KafkaChannelStatus) { s.MarkDataPlaneNotAvailable("NoIngress", "no ingress") }, KafkaChannelConditionDataPlaneAvailable},
		{"address", func(s *KafkaChannelStatus) { s.SetAddress(nil) }, KafkaChannelConditionAddressable},
		{"service", func(s *KafkaChannelStatus) { s.MarkServiceFailed("ServiceFailed", "cannot create") }, KafkaChannelConditionChannelServiceReady},
		{"dead-letter sink", func(s *KafkaChannelStatus) { s.MarkDeadLetterSinkFailed("Unresolvable", "no such sink") }, KafkaChannelConditionDeadLetterSinkResolved},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			s := s.DeepCopy()
			f.fail(s)
			if s.IsReady() {
				t.Fatal("IsReady() = true after a failure")
			}
			c := s.GetCondition(f.cond)
			ready := s.GetCondition(KafkaChannelConditionReady)
			if c.Status != corev1.ConditionFalse || ready.Status != corev1.ConditionFalse || ready.Reason != c.Reason {
				t.Errorf("%s = %s (%s), Ready = %s (%s); want both False with the same reason",
					f.cond, c.Status, c.Reason, ready.Status, ready.Reason)
			}
		})
	}

	t.Run("data plane unknown", func(t *testing.T) {
		s := s.DeepCopy()
		s.MarkDataPlaneUnknown("Propagating", "waiting for the ingress")
		if got := s.GetCondition(KafkaChannelConditionReady).Status; got != corev1.ConditionUnknown {
			t.Errorf("Ready = %s, want Unknown", got)
		}
	})
}

func TestKafkaChannelMarkFlipsOneCondition(t *testing.T) {
	tests := []struct {
		name string
		mark func(*KafkaChannelStatus)
		cond apis.ConditionType
		want corev1.ConditionStatus
	}{
		{"MarkTopicReady", func(s *KafkaChannelStatus) { s.MarkTopicReady("t") }, KafkaChannelConditionTopicReady, corev1.ConditionTrue},
		{"MarkTopicFailed", func(s *KafkaChannelStatus) { s.MarkTopicFailed("R", "m") }, KafkaChannelConditionTopicReady, corev1.ConditionFalse},
		{"MarkConfigParsed", (*KafkaChannelStatus).MarkConfigParsed, KafkaChannelConditionConfigParsed, corev1.ConditionTrue},
		{"MarkConfigFailed", func(s *KafkaChannelStatus) { s.MarkConfigFailed("R", "m") }, KafkaChannelConditionConfigParsed, corev1.ConditionFalse},
		{"MarkDataPlaneAvailable", (*KafkaChannelStatus).MarkDataPlaneAvailable, KafkaChannelConditionDataPlaneAvailable, corev1.ConditionTrue},
		{"MarkDataPlaneNotAvailable", func(s *KafkaChannelStatus) { s.MarkDataPlaneNotAvailable("R", "m") }, KafkaChannelConditionDataPlaneAvailable, corev1.ConditionFalse},
		{"MarkDataPlaneUnknown", func(s *KafkaChannelStatus) { s.MarkDataPlaneUnknown("R", "m") }, KafkaChannelConditionDataPlaneAvailable, corev1.ConditionUnknown},
		{"MarkServiceReady", (*KafkaChannelStatus).MarkServiceReady, KafkaChannelConditionChannelServiceReady, corev1.ConditionTrue},
		{"MarkServiceFailed", func(s *KafkaChannelStatus) { s.MarkServiceFailed("R", "m") }, KafkaChannelConditionChannelServiceReady, corev1.ConditionFalse},
		{"MarkDeadLetterSinkResolved", func(s *KafkaChannelStatus) { s.MarkDeadLetterSinkResolved(&apis.URL{Scheme: "http", Host: "dls"}) }, KafkaChannelConditionDeadLetterSinkResolved, corev1.ConditionTrue},
		{"MarkDeadLetterSinkNotConfigured", (*KafkaChannelStatus).MarkDeadLetterSinkNotConfigured, KafkaChannelConditionDeadLetterSinkResolved, corev1.ConditionTrue},
		{"MarkDeadLetterSinkFailed", func(s *KafkaChannelStatus) { s.MarkDeadLetterSinkFailed("R", "m") }, KafkaChannelConditionDeadLetterSinkResolved, corev1.ConditionFalse},
		{"SetAddress", func(s *KafkaChannelStatus) { s.SetAddress(&apis.URL{Scheme: "http", Host: "h"}) }, KafkaChannelConditionAddressable, corev1.ConditionTrue},
		{"SetAddress(nil)", func(s *KafkaChannelStatus) { s.SetAddress(nil) }, KafkaChannelConditionAddressable, corev1.ConditionFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s KafkaChannelStatus
			s.InitializeConditions()
			tt.mark(&s)
			want := map[apis.ConditionType]corev1.ConditionStatus{}
			for _, c := range allConditions {
				want[c] = corev1.ConditionUnknown
			}
			want[tt.cond] = tt.want
			want[apis.ConditionReady] = corev1.ConditionUnknown
			if tt.want == corev1.ConditionFalse {
				want[apis.ConditionReady] = corev1.ConditionFalse
			}
			if diff := cmp.Diff(want, conditionStatuses(&s)); diff != "" {
				t.Errorf("conditions after %s (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestKafkaChannelSetAddress(t *testing.T) {
	var s KafkaChannelStatus
	u := mustURL(t, "http://ch-kn-channel.ns.svc.cluster.local")
	s.SetAddress(u)
	http := "http"
	want := duckv1.Addressable{Name: &http, URL: u}
	if diff := cmp.Diff(&want, s.Address); diff != "" {
		t.Errorf("status.address (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]duckv1.Addressable{want}, s.Addresses); diff != "" {
		t.Errorf("status.addresses (-want +got):\n%s", diff)
	}
	if s.Address.URL == u {
		t.Error("status.address shares the caller's URL; want a copy")
	}

	s.SetAddress(nil)
	if s.Address != nil || s.Addresses != nil {
		t.Errorf("after SetAddress(nil): address = %v, addresses = %v; want both nil", s.Address, s.Addresses)
	}
	if c := s.GetCondition(KafkaChannelConditionAddressable); c.Reason != ReasonEmptyURL {
		t.Errorf("Addressable reason = %q, want %q", c.Reason, ReasonEmptyURL)
	}
}

func TestKafkaChannelDeadLetterSinkStatus(t *testing.T) {
	var s KafkaChannelStatus
	dls := mustURL(t, "http://dls.ns.svc.cluster.local")
	s.MarkDeadLetterSinkResolved(dls)
	if diff := cmp.Diff(dls, s.DeadLetterSinkURI); diff != "" {
		t.Errorf("status.deadLetterSinkUri (-want +got):\n%s", diff)
	}

	s.MarkDeadLetterSinkNotConfigured()
	if s.DeadLetterSinkURI != nil {
		t.Errorf("status.deadLetterSinkUri = %v after MarkDeadLetterSinkNotConfigured, want nil", s.DeadLetterSinkURI)
	}
	c := s.GetCondition(KafkaChannelConditionDeadLetterSinkResolved)
	if c.Status != corev1.ConditionTrue || c.Reason != ReasonDeadLetterSinkNotConfigured {
		t.Errorf("DeadLetterSinkResolved = %s (%s), want True (%s)", c.Status, c.Reason, ReasonDeadLetterSinkNotConfigured)
	}

	s.MarkDeadLetterSinkResolved(dls)
	s.MarkDeadLetterSinkFailed("Unresolvable", "sink %s not found", "dls")
	if s.DeadLetterSinkURI != nil {
		t.Errorf("status.deadLetterSinkUri = %v after MarkDeadLetterSinkFailed, want nil", s.DeadLetterSinkURI)
	}
}

func TestKafkaChannelIsReadyNeedsTheCurrentGeneration(t *testing.T) {
	kc := validChannel()
	kc.Generation = 2
	kc.Status.InitializeConditions()
	markAllTrue(t, &kc.Status)
	kc.Status.ObservedGeneration = 1
	if kc.IsReady() {
		t.Error("IsReady() = true for a status of an older generation")
	}
	kc.Status.ObservedGeneration = 2
	if !kc.IsReady() {
		t.Error("IsReady() = false for a happy status of the current generation")
	}
	if got := kc.GetConditionSet().Manage(kc.GetStatus()).IsHappy(); !got {
		t.Error("GetConditionSet().Manage(GetStatus()).IsHappy() = false, want true")
	}
}

func TestKafkaChannelTopicReadyMessageNamesTheTopic(t *testing.T) {
	var s KafkaChannelStatus
	s.MarkTopicReady("knative-messaging-kafka.ns.ch")
	c := s.GetCondition(KafkaChannelConditionTopicReady)
	if c.Reason != ReasonTopicReady || c.Message != "topic knative-messaging-kafka.ns.ch is ready" {
		t.Errorf("TopicReady = (%q, %q)", c.Reason, c.Message)
	}
}
