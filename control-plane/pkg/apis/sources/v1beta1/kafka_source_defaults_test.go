package v1beta1

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"
)

func TestKafkaSourceSetDefaultsFillsUnsetFields(t *testing.T) {
	ks := &KafkaSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"},
		Spec: KafkaSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "sink", APIVersion: "v1"}}},
			Delivery:   &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "dls", APIVersion: "v1"}}},
		},
	}
	ks.SetDefaults(context.Background())

	group, ok := strings.CutPrefix(ks.Spec.ConsumerGroup, "knative-kafka-source-")
	if !ok || len(group) != 36 {
		t.Errorf("consumerGroup = %q, want knative-kafka-source-<UUID>", ks.Spec.ConsumerGroup)
	}
	ordered := Ordered
	want := KafkaSourceSpec{
		ConsumerGroup: ks.Spec.ConsumerGroup,
		InitialOffset: OffsetLatest,
		Consumers:     ptr.Int32(1),
		Ordering:      &ordered,
		SourceSpec:    duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "sink", APIVersion: "v1", Namespace: "ns"}}},
		Delivery:      &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "dls", APIVersion: "v1", Namespace: "ns"}}},
	}
	if diff := cmp.Diff(want, ks.Spec); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}

	other := &KafkaSource{}
	other.SetDefaults(context.Background())
	if other.Spec.ConsumerGroup == ks.Spec.ConsumerGroup {
		t.Error("two sources were given the same consumer group")
	}
}

func TestKafkaSourceSetDefaultsKeepsWhatIsSet(t *testing.T) {
	unordered := Unordered
	spec := KafkaSourceSpec{
		ConsumerGroup: "mine",
		InitialOffset: OffsetEarliest,
		Consumers:     ptr.Int32(3),
		Ordering:      &unordered,
		SourceSpec:    duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "sink", APIVersion: "v1", Namespace: "elsewhere"}}},
	}
	ks := &KafkaSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: *spec.DeepCopy()}
	ks.SetDefaults(context.Background())
	if diff := cmp.Diff(spec, ks.Spec); diff != "" {
		t.Errorf("SetDefaults changed set fields (-before +after):\n%s", diff)
	}
}
