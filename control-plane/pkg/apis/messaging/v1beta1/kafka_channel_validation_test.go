package v1beta1

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// validChannel is a defaulted KafkaChannel that passes validation; opts change it.
func validChannel(opts ...func(*KafkaChannel)) *KafkaChannel {
	kc := &KafkaChannel{
		ObjectMeta: metav1.ObjectMeta{Name: "ch", Namespace: "ns"},
		Spec:       KafkaChannelSpec{NumPartitions: 1, ReplicationFactor: 1, RetentionDuration: "PT168H"},
	}
	for _, opt := range opts {
		opt(kc)
	}
	return kc
}

func withSubscribers(subs ...eventingduckv1.SubscriberSpec) func(*KafkaChannel) {
	return func(kc *KafkaChannel) { kc.Spec.Subscribers = subs }
}

func mustURL(t *testing.T, s string) *apis.URL {
	t.Helper()
	u, err := apis.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestKafkaChannelValidateCreate(t *testing.T) {
	timeout := "PT5S"
	badPolicy := eventingduckv1.BackoffPolicyType("sometimes")
	tests := []struct {
		name string
		kc   *KafkaChannel
		want *apis.FieldError
	}{{
		name: "valid",
		kc:   validChannel(),
	}, {
		name: "valid with subscribers and delivery",
		kc: validChannel(withSubscribers(
			eventingduckv1.SubscriberSpec{UID: "1", SubscriberURI: mustURL(t, "http://sub.ns.svc")},
			eventingduckv1.SubscriberSpec{UID: "2", ReplyURI: mustURL(t, "http://reply.ns.svc")},
		), func(kc *KafkaChannel) {
			kc.Spec.Delivery = &eventingduckv1.DeliverySpec{Timeout: &timeout}
		}),
	}, {
		name: "empty retention means the default",
		kc:   validChannel(func(kc *KafkaChannel) { kc.Spec.RetentionDuration = "" }),
	}, {
		name: "zero partitions",
		kc:   validChannel(func(kc *KafkaChannel) { kc.Spec.NumPartitions = 0 }),
		want: &apis.FieldError{Message: "invalid value: 0", Paths: []string{"spec.numPartitions"}, Details: "the topic needs at least one partition"},
	}, {
		name: "negative replication factor",
		kc:   validChannel(func(kc *KafkaChannel) { kc.Spec.ReplicationFactor = -1 }),
		want: &apis.FieldError{Message: "invalid value: -1", Paths: []string{"spec.replicationFactor"}, Details: "the topic needs at least one replica"},
	}, {
		name: "retention that is not ISO-8601",
		kc:   validChannel(func(kc *KafkaChannel) { kc.Spec.RetentionDuration = "7d" }),
		want: &apis.FieldError{
			Message: "invalid value: 7d", Paths: []string{"spec.retentionDuration"},
			Details: `parsing retention duration "7d" as ISO-8601: expected 'P' period mark at the start: 7d`,
		},
	}, {
		name: "negative retention",
		kc:   validChannel(func(kc *KafkaChannel) { kc.Spec.RetentionDuration = "-P1D" }),
		want: &apis.FieldError{
			Message: "invalid value: -P1D", Paths: []string{"spec.retentionDuration"},
			Details: `retention duration "-P1D" is negative`,
		},
	}, {
		name: "subscriber without subscriber or reply URI",
		kc:   validChannel(withSubscribers(eventingduckv1.SubscriberSpec{UID: "1"})),
		want: apis.ErrMissingOneOf("spec.subscribers[0].subscriberUri", "spec.subscribers[0].replyUri"),
	}, {
		name: "invalid delivery",
		kc: validChannel(func(kc *KafkaChannel) {
			kc.Spec.Delivery = &eventingduckv1.DeliverySpec{BackoffPolicy: &badPolicy}
		}),
		want: apis.ErrInvalidValue(badPolicy, "spec.delivery.backoffPolicy"),
	}, {
		name: "invalid scope annotation",
		kc: validChannel(func(kc *KafkaChannel) {
			kc.Annotations = map[string]string{"eventing.knative.dev/scope": "galaxy"}
		}),
		want: &apis.FieldError{
			Message: "invalid value: galaxy",
			Paths:   []string{"metadata.annotations[eventing.knative.dev/scope]"},
			Details: `expected "namespace" or "cluster"`,
		},
	}, {
		name: "a delivery-order annotation, the default of the channel's Subscriptions, in any case",
		kc: validChannel(func(kc *KafkaChannel) {
			kc.Annotations = map[string]string{"kafka.eventing.knative.dev/delivery.order": "Key-Ordered"}
		}),
	}, {
		name: "invalid delivery-order annotation",
		kc: validChannel(func(kc *KafkaChannel) {
			kc.Annotations = map[string]string{"kafka.eventing.knative.dev/delivery.order": "fifo"}
		}),
		want: &apis.FieldError{
			Message: "invalid value: fifo",
			Paths:   []string{"metadata.annotations[kafka.eventing.knative.dev/delivery.order]"},
			Details: `expected "ordered", "unordered" or "key-ordered", in any case`,
		},
	}, {
		name: "every error at once",
		kc: validChannel(func(kc *KafkaChannel) {
			kc.Spec = KafkaChannelSpec{NumPartitions: -1, ReplicationFactor: 0, RetentionDuration: "P1D"}
		}),
		want: (&apis.FieldError{Message: "invalid value: -1", Paths: []string{"spec.numPartitions"}, Details: "the topic needs at least one partition"}).
			Also(&apis.FieldError{Message: "invalid value: 0", Paths: []string{"spec.replicationFactor"}, Details: "the topic needs at least one replica"}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.kc.Validate(context.Background())
			if diff := cmp.Diff(errString(tt.want), errString(got)); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(fe *apis.FieldError) string {
	if fe == nil {
		return ""
	}
	return fe.Error()
}

func TestKafkaChannelValidateUpdate(t *testing.T) {
	controller := &authenticationv1.UserInfo{Username: EventingControllerServiceAccount}
	someone := &authenticationv1.UserInfo{Username: "jane"}
	sub := eventingduckv1.SubscriberSpec{UID: "1", SubscriberURI: mustURL(t, "http://sub.ns.svc")}
	tests := []struct {
		name     string
		user     *authenticationv1.UserInfo
		original *KafkaChannel
		updated  *KafkaChannel
		want     string
	}{{
		name:     "no change",
		user:     someone,
		original: validChannel(),
		updated:  validChannel(),
	}, {
		name:     "retention may change",
		user:     someone,
		original: validChannel(),
		updated:  validChannel(func(kc *KafkaChannel) { kc.Spec.RetentionDuration = "P30D" }),
	}, {
		name:     "delivery may change",
		user:     someone,
		original: validChannel(),
		updated: validChannel(func(kc *KafkaChannel) {
			kc.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: mustURL(t, "http://dls.ns.svc")}}
		}),
	}, {
		name:     "partitions are immutable",
		user:     someone,
		original: validChannel(),
		updated:  validChannel(func(kc *KafkaChannel) { kc.Spec.NumPartitions = 3 }),
		want:     "Immutable fields changed (-old +new): spec.numPartitions\n-1 +3",
	}, {
		name:     "replication factor is immutable",
		user:     controller,
		original: validChannel(),
		updated:  validChannel(func(kc *KafkaChannel) { kc.Spec.ReplicationFactor = 3 }),
		want:     "Immutable fields changed (-old +new): spec.replicationFactor\n-1 +3",
	}, {
		name:     "both immutable fields in one error",
		user:     someone,
		original: validChannel(),
		updated: validChannel(func(kc *KafkaChannel) {
			kc.Spec.NumPartitions = 2
			kc.Spec.ReplicationFactor = 2
		}),
		want: "Immutable fields changed (-old +new): spec.numPartitions, spec.replicationFactor\n-1 +2",
	}, {
		name:     "the eventing controller may change subscribers",
		user:     controller,
		original: validChannel(),
		updated:  validChannel(withSubscribers(sub)),
	}, {
		name:     "anyone else may not change subscribers",
		user:     someone,
		original: validChannel(),
		updated:  validChannel(withSubscribers(sub)),
		want:     `spec.subscribers changed by user "jane", which is not the system:serviceaccount:knative-eventing:eventing-controller service account: spec.subscribers`,
	}, {
		name:     "an unknown user may not change subscribers",
		original: validChannel(withSubscribers(sub)),
		updated:  validChannel(),
		want:     `spec.subscribers changed by user "", which is not the system:serviceaccount:knative-eventing:eventing-controller service account: spec.subscribers`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := apis.WithinUpdate(context.Background(), tt.original)
			if tt.user != nil {
				ctx = apis.WithUserInfo(ctx, tt.user)
			}
			got := ""
			if err := tt.updated.Validate(ctx); err != nil {
				got = err.Error()
				// The subscriber diff in Details is go-cmp output, unstable by design, so rows
				// without a newline in want compare the first line only.
				if !strings.Contains(tt.want, "\n") {
					got, _, _ = strings.Cut(got, "\n")
				}
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}
