package kafkachannel

import (
	"testing"

	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"

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
