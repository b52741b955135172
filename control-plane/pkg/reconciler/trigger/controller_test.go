package trigger

import (
	"testing"

	"knative.dev/pkg/configmap"
	. "knative.dev/pkg/reconciler/testing"

	_ "knative.dev/eventing/pkg/client/injection/client/fake"
	_ "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/broker/fake"
	_ "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/trigger/fake"
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/source/fake"
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/secret/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
)

func TestNewControllerWiresTheReconciler(t *testing.T) {
	ctx, _ := SetupFakeContext(t)
	kafka := &fakeKafka{}
	impl := NewController(ctx, configmap.NewStaticWatcher(), Deps{Kafka: kafka.get, Contract: &fakeStore{}, DataPlane: fakeDataPlane{}})
	if impl == nil {
		t.Fatal("NewController returned nil")
	}
}
