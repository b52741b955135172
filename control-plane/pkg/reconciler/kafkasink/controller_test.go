package kafkasink

import (
	"testing"

	"knative.dev/pkg/configmap"
	. "knative.dev/pkg/reconciler/testing"

	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"

	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/secret/fake"
	_ "knkafka.dev/control-plane/pkg/client/injection/client/fake"
	_ "knkafka.dev/control-plane/pkg/client/injection/informers/eventing/v1alpha1/kafkasink/fake"
)

func TestNewControllerWiresTheReconciler(t *testing.T) {
	ctx, _ := SetupFakeContext(t)
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	if impl == nil {
		t.Fatal("NewController returned nil")
	}
}

// TestSecretChangesRequeueTheSinksUsingThem: a created, rotated or deleted auth Secret requeues
// the sinks that name it, and an unrelated Secret requeues nothing.
func TestSecretChangesRequeueTheSinksUsingThem(t *testing.T) {
	ctx, cancel, informers := SetupFakeContextWithCancel(t)
	defer cancel()
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	secrettest.CheckRequeues(ctx, t, impl, informers, newSink(withAuth), ns, "kafka-auth")
}
