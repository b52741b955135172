package kafkachannel

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"

	_ "knative.dev/eventing/pkg/client/injection/informers/messaging/v1/subscription/fake"
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/secret/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/service/fake"
	"knative.dev/pkg/configmap"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"

	_ "knkafka.dev/control-plane/pkg/client/injection/informers/messaging/v1beta1/kafkachannel/fake"
)

// TestNewController wires the controller to fake informers: it must find every informer and
// client it needs in the context.
func TestNewController(t *testing.T) {
	ctx, _ := SetupFakeContext(t)
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: &fakeDataPlane{}})
	if impl == nil {
		t.Fatal("NewController returned nil")
	}
}

func TestSystemNamespace(t *testing.T) {
	t.Setenv(system.NamespaceEnvKey, "")
	if got := SystemNamespace(); got != "knative-eventing" {
		t.Errorf("SystemNamespace without %s = %q, want knative-eventing", system.NamespaceEnvKey, got)
	}
	t.Setenv(system.NamespaceEnvKey, "kafka-system")
	if got := SystemNamespace(); got != "kafka-system" {
		t.Errorf("SystemNamespace = %q, want kafka-system", got)
	}
}

// TestSecretChangesRequeueTheChannelsUsingThem: a created, rotated or deleted auth Secret
// requeues the channels that read it, and an unrelated Secret requeues nothing.
func TestSecretChangesRequeueTheChannelsUsingThem(t *testing.T) {
	ctx, cancel, informers := SetupFakeContextWithCancel(t)
	defer cancel()
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: &fakeDataPlane{}})
	secrettest.CheckRequeues(ctx, t, impl, informers, NewKafkaChannel(channelName, ns), systemNS, "kafka-auth")
}

// TestSubscriptionChangesRequeueTheirChannel: a Subscription that appears requeues its channel
// (a KafkaChannel, or the KafkaChannel of the same name behind a generic Channel, in the
// Subscription's namespace unless the reference names another); a change of its delivery-order
// annotation does too; any other change, or a Subscription to another kind of channel, does not.
func TestSubscriptionChangesRequeueTheirChannel(t *testing.T) {
	onChannel := func(apiVersion, kind, namespace string) func(*messagingv1.Subscription) {
		return func(s *messagingv1.Subscription) {
			s.Spec.Channel = duckv1.KReference{APIVersion: apiVersion, Kind: kind, Name: channelName, Namespace: namespace}
		}
	}
	withLabel := func(s *messagingv1.Subscription) { s.Labels = map[string]string{"team": "billing"} }
	channel := types.NamespacedName{Namespace: ns, Name: channelName}
	tests := []struct {
		name          string
		before, after *messagingv1.Subscription // before nil: added
		want          []types.NamespacedName
	}{{
		name:  "a Subscription to a KafkaChannel is added",
		after: NewSubscription("a", ns),
		want:  []types.NamespacedName{channel},
	}, {
		name:  "a Subscription to a generic Channel is added",
		after: NewSubscription("a", ns, onChannel("messaging.knative.dev/v1", "Channel", "")),
		want:  []types.NamespacedName{channel},
	}, {
		name:  "a Subscription in another namespace is added",
		after: NewSubscription("a", "other", onChannel("messaging.knative.dev/v1beta1", "KafkaChannel", "")),
		want:  []types.NamespacedName{{Namespace: "other", Name: channelName}},
	}, {
		name:  "a Subscription to a channel in another namespace (cross-namespace event links) is added",
		after: NewSubscription("a", ns, onChannel("messaging.knative.dev/v1beta1", "KafkaChannel", "other")),
		want:  []types.NamespacedName{{Namespace: "other", Name: channelName}},
	}, {
		name:  "a Subscription to an InMemoryChannel is added",
		after: NewSubscription("a", ns, onChannel("messaging.knative.dev/v1", "InMemoryChannel", "")),
	}, {
		name:  "a Subscription to a KafkaChannel of another group is added",
		after: NewSubscription("a", ns, onChannel("example.com/v1", "KafkaChannel", "")),
	}, {
		name:   "the delivery order is set",
		before: NewSubscription("a", ns),
		after:  NewSubscription("a", ns, WithSubscriptionOrder("unordered")),
		want:   []types.NamespacedName{channel},
	}, {
		name:   "the delivery order changes case only",
		before: NewSubscription("a", ns, WithSubscriptionOrder("unordered")),
		after:  NewSubscription("a", ns, WithSubscriptionOrder("Unordered")),
		want:   []types.NamespacedName{channel},
	}, {
		name:   "the delivery order is removed",
		before: NewSubscription("a", ns, WithSubscriptionOrder("unordered")),
		after:  NewSubscription("a", ns),
		want:   []types.NamespacedName{channel},
	}, {
		name:   "the delivery order is set to an empty value",
		before: NewSubscription("a", ns),
		after:  NewSubscription("a", ns, WithSubscriptionOrder("")),
		want:   []types.NamespacedName{channel},
	}, {
		name:   "another change",
		before: NewSubscription("a", ns, WithSubscriptionOrder("unordered")),
		after:  NewSubscription("a", ns, WithSubscriptionOrder("unordered"), withLabel),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []types.NamespacedName
			h := subscriptionHandler(func(key types.NamespacedName) { got = append(got, key) })
			if tt.before == nil {
				h.OnAdd(tt.after, false)
			} else {
				h.OnUpdate(tt.before, tt.after)
			}
			h.OnDelete(tt.after)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("channels enqueued (-want +got):\n%s", diff)
			}
		})
	}
}
