package kafkasource

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	secretinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/secret"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"

	kafkasourceinformer "knkafka.dev/control-plane/pkg/client/injection/informers/sources/v1beta1/kafkasource"
	kafkasourcereconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/sources/v1beta1/kafkasource"
	"knkafka.dev/control-plane/pkg/kafka"
)

// Deps are the collaborators of the KafkaSource reconciler.
type Deps struct {
	// Kafka returns the cluster of a source's bootstrap servers (see KafkaFrom).
	Kafka KafkaFunc
	// Contract receives the sources' contract entries.
	Contract ContractStore
	// DataPlane tells when the data plane serves a source.
	DataPlane DataPlane
	// PollInterval is how often a source is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the KafkaSource controller. Its finalizer is the generated default,
// kafkasources.sources.knative.dev — the one Knative's Kafka source uses, so sources it created
// are finalized by us after a switch. A Secret that spec.net references requeues the sources
// that reference it when it is created, changed or deleted.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	secretInformer := secretinformer.Get(ctx)
	r := &Reconciler{
		credentials:  kafka.NewCredentials(secretInformer.Lister()),
		kafka:        deps.Kafka,
		contract:     deps.Contract,
		dataPlane:    deps.DataPlane,
		pollInterval: deps.PollInterval,
	}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	impl := kafkasourcereconciler.NewImpl(ctx, r)
	// The tracker requeues a source when the object its sink or dead-letter sink refers to
	// changes, and when one of its Secrets does.
	r.tracker = impl.Tracker
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)
	addHandler(ctx, kafkasourceinformer.Get(ctx).Informer(), controller.HandleAll(impl.Enqueue))
	addHandler(ctx, secretInformer.Informer(), controller.HandleAll(
		controller.EnsureTypeMeta(impl.Tracker.OnChanged, corev1.SchemeGroupVersion.WithKind("Secret")),
	))
	return impl
}

// addHandler adds h to informer; failing to is a programming error (the informer already stopped).
func addHandler(ctx context.Context, informer cache.SharedInformer, h cache.ResourceEventHandler) {
	if _, err := informer.AddEventHandler(h); err != nil {
		logging.FromContext(ctx).Desugar().Fatal("adding an informer event handler", zap.Error(err))
	}
}
