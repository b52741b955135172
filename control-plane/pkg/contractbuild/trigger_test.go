package contractbuild_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

var (
	subscriber = apis.HTTP("subscriber.ns.svc.cluster.local")
	deadLetter = apis.HTTP("dls.ns.svc.cluster.local")
)

func TestTriggerEgress(t *testing.T) {
	linear := eventingduckv1.BackoffPolicyLinear
	exponential := eventingduckv1.BackoffPolicyExponential
	tests := []struct {
		name       string
		trigger    func(*eventingv1.Trigger)
		broker     func(*eventingv1.Broker)
		deadLetter *apis.URL
		want       func(*contract.Egress)
		wantErr    string
	}{{
		name: "a bare trigger delivers everything unordered with no retries",
	}, {
		name:       "a dead-letter sink is written as given",
		deadLetter: deadLetter,
		want:       func(e *contract.Egress) { e.DeadLetter = "http://dls.ns.svc.cluster.local" },
	}, {
		name: "the ordered annotation orders",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "ordered"}
		},
		want: func(e *contract.Egress) { e.Order = contract.Ordered },
	}, {
		name: "the unordered annotation is the default",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "unordered"}
		},
	}, {
		name: "the key-ordered annotation (our extension) orders per key",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "key-ordered"}
		},
		want: func(e *contract.Egress) { e.Order = contract.KeyOrdered },
	}, {
		name: "the annotation is read case-insensitively, as Knative's Kafka broker reads it",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "Ordered"}
		},
		want: func(e *contract.Egress) { e.Order = contract.Ordered },
	}, {
		name: "key-ordered in upper case",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "KEY-ORDERED"}
		},
		want: func(e *contract.Egress) { e.Order = contract.KeyOrdered },
	}, {
		name: "another order value is an error",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "sometimes"}
		},
		wantErr: `annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "sometimes"`,
	}, {
		name: "the broker's delivery applies when the trigger has none",
		broker: func(b *eventingv1.Broker) {
			b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.2S")}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(200 * time.Millisecond)}
		},
	}, {
		name: "the trigger's delivery wins field by field",
		broker: func(b *eventingv1.Broker) {
			b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT1S"), Timeout: ptr.String("PT30S")}
		},
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(5), BackoffPolicy: &exponential, RetryAfterMax: ptr.String("PT2M")}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{
				Retry: 5, BackoffPolicy: contract.BackoffExponential, BackoffDelay: contract.Duration(time.Second),
				Timeout: contract.Duration(30 * time.Second), RetryAfterMax: contract.Duration(2 * time.Minute),
			}
		},
	}, {
		// Knative's Kafka broker would use exponential here: it takes the policy from the trigger
		// whenever the trigger has any delivery (docs/compatibility.md).
		name: "a trigger setting only retry keeps the broker's backoff policy, delay and timeout",
		broker: func(b *eventingv1.Broker) {
			b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.2S"), Timeout: ptr.String("PT5S")}
		},
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(1)}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{Retry: 1, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(200 * time.Millisecond), Timeout: contract.Duration(5 * time.Second)}
		},
	}, {
		name: "a trigger with only a dead-letter sink keeps the broker's retries",
		broker: func(b *eventingv1.Broker) {
			b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.2S")}
		},
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: deadLetter}}
		},
		deadLetter: deadLetter,
		want: func(e *contract.Egress) {
			e.DeadLetter = "http://dls.ns.svc.cluster.local"
			e.Delivery = contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(200 * time.Millisecond)}
		},
	}, {
		// Knative's Kafka broker reads 0 as unset and would retry 3 times (docs/compatibility.md).
		name: "a trigger's explicit retry 0 wins over the broker's retries",
		broker: func(b *eventingv1.Broker) {
			b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffDelay: ptr.String("PT1S")}
		},
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(0)}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{Retry: 0, BackoffDelay: contract.Duration(time.Second)}
		},
	}, {
		name: "a duration that is not ISO-8601 is an error",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Delivery = &eventingduckv1.DeliverySpec{Timeout: ptr.String("10s")}
		},
		wantErr: "delivery.timeout must be an ISO-8601 duration",
	}, {
		name: "legacy attributes are copied",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "order.created", "source": ""}}
		},
		want: func(e *contract.Egress) {
			e.Filter = &contract.Filter{Attributes: map[string]string{"type": "order.created", "source": ""}}
		},
	}, {
		name:    "an empty legacy filter is no filter",
		trigger: func(tr *eventingv1.Trigger) { tr.Spec.Filter = &eventingv1.TriggerFilter{} },
	}, {
		name: "SubscriptionsAPI filters are copied next to the attributes",
		trigger: func(tr *eventingv1.Trigger) {
			tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "a"}}
			tr.Spec.Filters = []eventingv1.SubscriptionsAPIFilter{
				{Prefix: map[string]string{"type": "order."}},
				{Any: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"source": "x"}}, {Suffix: map[string]string{"subject": ".png"}}}},
				{Not: &eventingv1.SubscriptionsAPIFilter{CESQL: "source LIKE '%test%'"}},
			}
		},
		want: func(e *contract.Egress) {
			e.Filter = &contract.Filter{
				Attributes: map[string]string{"type": "a"},
				Filters: []eventingv1.SubscriptionsAPIFilter{
					{Prefix: map[string]string{"type": "order."}},
					{Any: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"source": "x"}}, {Suffix: map[string]string{"subject": ".png"}}}},
					{Not: &eventingv1.SubscriptionsAPIFilter{CESQL: "source LIKE '%test%'"}},
				},
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, b := trigger(), broker()
			if tt.trigger != nil {
				tt.trigger(tr)
			}
			if tt.broker != nil {
				tt.broker(b)
			}
			got, err := contractbuild.TriggerEgress(tr, b, "knative-trigger-ns-orders", subscriber, tt.deadLetter)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := contract.Egress{
				UID: "trigger-uid", Kind: "Trigger", Namespace: "ns", Name: "orders",
				ConsumerGroup: "knative-trigger-ns-orders",
				Destination:   "http://subscriber.ns.svc.cluster.local",
				Reply:         contract.Reply{Kind: contract.ReplyTopic},
				Order:         contract.Unordered,
			}
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("egress (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTriggerEgressGolden(t *testing.T) {
	linear := eventingduckv1.BackoffPolicyLinear
	tr, b := trigger(), broker()
	tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: "ordered"}
	tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "order.created"}}
	tr.Spec.Filters = []eventingv1.SubscriptionsAPIFilter{{All: []eventingv1.SubscriptionsAPIFilter{
		{Prefix: map[string]string{"type": "order."}}, {Not: &eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"source": "test"}}},
	}}}
	tr.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(4), Timeout: ptr.String("PT5S")}
	b.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(2), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.5S"), RetryAfterMax: ptr.String("PT1M")}
	got, err := contractbuild.TriggerEgress(tr, b, "knative-trigger-ns-orders", subscriber, deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trigger_egress", got)
}

func TestTriggerEgressNeedsASubscriber(t *testing.T) {
	if _, err := contractbuild.TriggerEgress(trigger(), broker(), "knative-trigger-ns-orders", nil, nil); err == nil {
		t.Fatal("TriggerEgress without a subscriber succeeded")
	}
}

func TestMergeDeliveryRejectsBadValues(t *testing.T) {
	bogus := eventingduckv1.BackoffPolicyType("random")
	for name, spec := range map[string]*eventingduckv1.DeliverySpec{
		"negative retry":         {Retry: ptr.Int32(-1)},
		"unknown backoff policy": {BackoffPolicy: &bogus},
		"negative delay":         {BackoffDelay: ptr.String("-PT1S")},
		"garbage retryAfterMax":  {RetryAfterMax: ptr.String("soon")},
	} {
		if _, err := contractbuild.MergeDelivery(spec, nil); err == nil {
			t.Errorf("%s: MergeDelivery succeeded, want an error", name)
		}
	}
	if got, err := contractbuild.MergeDelivery(nil, nil); err != nil || got != (contract.Delivery{}) {
		t.Errorf("MergeDelivery(nil, nil) = %+v, %v; want zero", got, err)
	}
}

func trigger() *eventingv1.Trigger {
	return &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders", UID: "trigger-uid"},
		Spec:       eventingv1.TriggerSpec{Broker: "default"},
	}
}
