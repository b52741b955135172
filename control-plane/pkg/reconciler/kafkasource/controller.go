package kafkasource

import (
	"context"
	"time"

	"go.uber.org/zap"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"

	kafkasourceinformer "knkafka.dev/control-plane/pkg/client/injection/informers/sources/v1beta1/kafkasource"
	kafkasourcereconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/sources/v1beta1/kafkasource"
)

// Deps are the collaborators of the KafkaSource reconciler.
type Deps struct {
	// Contract receives the sources' contract entries.
	Contract ContractStore
	// DataPlane tells when the data plane serves a source.
	DataPlane DataPlane
	// PollInterval is how often a source is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the KafkaSource controller. Its finalizer is the generated default,
// kafkasources.sources.knative.dev — the one Knative's Kafka source uses, so sources it created
// are finalized by us after a switch.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	r := &Reconciler{contract: deps.Contract, dataPlane: deps.DataPlane, pollInterval: deps.PollInterval}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	impl := kafkasourcereconciler.NewImpl(ctx, r)
	// The tracker requeues a source when the object its sink or dead-letter sink refers to changes.
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)
	if _, err := kafkasourceinformer.Get(ctx).Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logging.FromContext(ctx).Desugar().Fatal("adding an informer event handler", zap.Error(err))
	}
	return impl
}
