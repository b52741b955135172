package kafkasource

import (
	"testing"

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
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	if impl == nil {
		t.Fatal("NewController returned nil")
	}
}
