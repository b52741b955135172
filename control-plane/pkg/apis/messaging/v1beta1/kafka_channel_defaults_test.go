package v1beta1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestKafkaChannelSetDefaults(t *testing.T) {
	duckAnnotation := map[string]string{"messaging.knative.dev/subscribable": "v1"}
	tests := []struct {
		name string
		ctx  context.Context
		in   KafkaChannel
		want KafkaChannel
	}{{
		name: "empty spec gets every default",
		ctx:  context.Background(),
		in:   KafkaChannel{},
		want: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Annotations: duckAnnotation},
			Spec:       KafkaChannelSpec{NumPartitions: 1, ReplicationFactor: 1, RetentionDuration: "PT168H"},
		},
	}, {
		name: "set fields are kept",
		ctx:  context.Background(),
		in: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"messaging.knative.dev/subscribable": "v2", "a": "b"}},
			Spec:       KafkaChannelSpec{NumPartitions: 6, ReplicationFactor: 3, RetentionDuration: "P1D"},
		},
		want: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"messaging.knative.dev/subscribable": "v2", "a": "b"}},
			Spec:       KafkaChannelSpec{NumPartitions: 6, ReplicationFactor: 3, RetentionDuration: "P1D"},
		},
	}, {
		name: "defaults from the context replace the constants",
		ctx:  WithChannelDefaults(context.Background(), ChannelDefaults{NumPartitions: 10, ReplicationFactor: 3, RetentionDuration: "PT1H"}),
		in:   KafkaChannel{Spec: KafkaChannelSpec{ReplicationFactor: 2}},
		want: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Annotations: duckAnnotation},
			Spec:       KafkaChannelSpec{NumPartitions: 10, ReplicationFactor: 2, RetentionDuration: "PT1H"},
		},
	}, {
		name: "partial defaults from the context fall back to the constants",
		ctx:  WithChannelDefaults(context.Background(), ChannelDefaults{NumPartitions: 4}),
		in:   KafkaChannel{},
		want: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Annotations: duckAnnotation},
			Spec:       KafkaChannelSpec{NumPartitions: 4, ReplicationFactor: 1, RetentionDuration: "PT168H"},
		},
	}, {
		name: "the dead-letter sink reference gets the channel's namespace",
		ctx:  context.Background(),
		in: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
			Spec: KafkaChannelSpec{ChannelableSpec: eventingduckv1.ChannelableSpec{Delivery: &eventingduckv1.DeliverySpec{
				DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", APIVersion: "v1", Name: "dls"}},
			}}},
		},
		want: KafkaChannel{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Annotations: duckAnnotation},
			Spec: KafkaChannelSpec{
				NumPartitions: 1, ReplicationFactor: 1, RetentionDuration: "PT168H",
				ChannelableSpec: eventingduckv1.ChannelableSpec{Delivery: &eventingduckv1.DeliverySpec{
					DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", APIVersion: "v1", Name: "dls", Namespace: "ns"}},
				}},
			},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.DeepCopy()
			got.SetDefaults(tt.ctx)
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("SetDefaults() (-want +got):\n%s", diff)
			}
		})
	}
}
