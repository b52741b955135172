package v1beta1

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"
)

func validSource(opts ...func(*KafkaSource)) *KafkaSource {
	ordered := Ordered
	ks := &KafkaSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"},
		Spec: KafkaSourceSpec{
			BootstrapServers: []string{"kafka:9092"},
			Topics:           []string{"orders"},
			ConsumerGroup:    "group",
			InitialOffset:    OffsetLatest,
			Consumers:        ptr.Int32(1),
			Ordering:         &ordered,
			SourceSpec:       duckv1.SourceSpec{Sink: duckv1.Destination{URI: apis.HTTP("sink.ns.svc")}},
		},
	}
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

func ordering(o DeliveryOrdering) func(*KafkaSource) {
	return func(ks *KafkaSource) { ks.Spec.Ordering = &o }
}

func TestKafkaSourceValidate(t *testing.T) {
	tests := []struct {
		name string
		ks   *KafkaSource
		// want are substrings of the error; none means valid.
		want []string
	}{
		{name: "a complete source", ks: validSource()},
		{name: "key-ordered delivery", ks: validSource(ordering(KeyOrdered))},
		{name: "unordered delivery", ks: validSource(ordering(Unordered))},
		{name: "initial offset earliest", ks: validSource(func(ks *KafkaSource) { ks.Spec.InitialOffset = OffsetEarliest })},
		{name: "every key type", ks: validSource(func(ks *KafkaSource) { ks.Labels = map[string]string{KafkaKeyTypeLabel: "byte-array"} })},
		{name: "SASL is admitted (the reconciler reports it unsupported)", ks: validSource(func(ks *KafkaSource) { ks.Spec.Net.SASL.Enable = true })},
		{name: "no topics", ks: validSource(func(ks *KafkaSource) { ks.Spec.Topics = nil }), want: []string{"missing field(s): spec.topics"}},
		{name: "an empty topic", ks: validSource(func(ks *KafkaSource) { ks.Spec.Topics = []string{"a", " "} }), want: []string{"spec.topics[1]"}},
		{name: "no bootstrap servers", ks: validSource(func(ks *KafkaSource) { ks.Spec.BootstrapServers = nil }), want: []string{"missing field(s): spec.bootstrapServers"}},
		{name: "no sink", ks: validSource(func(ks *KafkaSource) { ks.Spec.Sink = duckv1.Destination{} }), want: []string{"spec.sink"}},
		{name: "a sink with a relative URI", ks: validSource(func(ks *KafkaSource) { ks.Spec.Sink = duckv1.Destination{URI: &apis.URL{Path: "/x"}} }), want: []string{"spec.sink.uri"}},
		{name: "an unknown initial offset", ks: validSource(func(ks *KafkaSource) { ks.Spec.InitialOffset = "newest" }), want: []string{"invalid value: newest: spec.initialOffset"}},
		{name: "an unknown ordering", ks: validSource(ordering("random")), want: []string{"invalid value: random: spec.ordering"}},
		{name: "negative consumers", ks: validSource(func(ks *KafkaSource) { ks.Spec.Consumers = ptr.Int32(-1) }), want: []string{"spec.consumers"}},
		{name: "an unknown key type", ks: validSource(func(ks *KafkaSource) { ks.Labels = map[string]string{KafkaKeyTypeLabel: "long"} }),
			want: []string{"invalid value: long: metadata.labels[kafkasources.sources.knative.dev/key-type]"}},
		{name: "an invalid delivery", ks: validSource(func(ks *KafkaSource) {
			ks.Spec.Delivery = &eventingduckv1.DeliverySpec{BackoffDelay: ptr.String("soon")}
		}),
			want: []string{"spec.delivery.backoffDelay"}},
		{name: "an invalid ceOverrides extension", ks: validSource(func(ks *KafkaSource) {
			ks.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"Not-Valid": "x"}}
		}), want: []string{"spec.ceOverrides.extensions"}},
		{name: "several problems are reported together", ks: validSource(func(ks *KafkaSource) { ks.Spec.Topics, ks.Spec.BootstrapServers = nil, nil }),
			want: []string{"spec.topics", "spec.bootstrapServers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ks.Validate(context.Background())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestKafkaSourceConsumerGroupIsImmutable(t *testing.T) {
	original := validSource()
	changed := validSource(func(ks *KafkaSource) { ks.Spec.ConsumerGroup = "another" })
	ctx := apis.WithinUpdate(context.Background(), original)
	err := changed.Validate(ctx)
	if err == nil || !strings.Contains(err.Error(), "Immutable fields changed (-old +new): spec.consumerGroup") {
		t.Errorf("Validate() of a consumer group change = %v, want an immutability error", err)
	}
	// Everything else may change.
	other := validSource(func(ks *KafkaSource) {
		ks.Spec.Topics = []string{"other"}
		ks.Spec.InitialOffset = OffsetEarliest
	})
	if err := other.Validate(ctx); err != nil {
		t.Errorf("Validate() of a topics and offset change = %v, want nil", err)
	}
	if err := changed.CheckImmutableFields(ctx, nil); err != nil {
		t.Errorf("CheckImmutableFields without an original = %v, want nil", err)
	}
}
