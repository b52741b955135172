package kafkasource

import (
	"testing"

	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"

	"knative.dev/pkg/configmap"
	. "knative.dev/pkg/reconciler/testing"

	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/secret/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
	_ "knkafka.dev/control-plane/pkg/client/injection/client/fake"
	_ "knkafka.dev/control-plane/pkg/client/injection/informers/sources/v1beta1/kafkasource/fake"
)

func TestNewControllerWiresTheReconciler(t *testing.T) {
	ctx, _ := SetupFakeContext(t)
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	if impl == nil {
		t.Fatal("NewController returned nil")
	}
}

// TestSecretChangesRequeueTheSourcesUsingThem: a created, rotated or deleted spec.net Secret
// requeues the sources that read it, and an unrelated Secret requeues nothing.
func TestSecretChangesRequeueTheSourcesUsingThem(t *testing.T) {
	ctx, cancel, informers := SetupFakeContextWithCancel(t)
	defer cancel()
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: (&fakeKafka{}).get, Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	secrettest.CheckRequeues(ctx, t, impl, informers, newSource(withNet), ns, "kafka-user")
}
