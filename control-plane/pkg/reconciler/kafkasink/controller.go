package kafkasink

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

	kafkasinkinformer "knkafka.dev/control-plane/pkg/client/injection/informers/eventing/v1alpha1/kafkasink"
	kafkasinkreconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/eventing/v1alpha1/kafkasink"
	"knkafka.dev/control-plane/pkg/kafka"
)

// Deps are the collaborators of the KafkaSink reconciler.
type Deps struct {
	// Kafka returns the cluster of a sink's bootstrap servers (see KafkaFrom).
	Kafka KafkaFunc
	// Contract receives the sinks' contract entries.
	Contract ContractStore
	// DataPlane tells when the data plane serves a sink.
	DataPlane DataPlane
	// IngressHost is the host of sink addresses; empty means contractbuild.DefaultSinkIngressHost.
	IngressHost string
	// PollInterval is how often a sink is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the KafkaSink controller. Its finalizer is the generated default,
// kafkasinks.eventing.knative.dev — the one Knative's Kafka sink uses, so sinks it created are
// finalized by us after a switch. An auth Secret requeues the sinks that name it when it is
// created, changed or deleted.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	secretInformer := secretinformer.Get(ctx)
	r := &Reconciler{
		credentials:  kafka.NewCredentials(secretInformer.Lister()),
		kafka:        deps.Kafka,
		contract:     deps.Contract,
		dataPlane:    deps.DataPlane,
		ingressHost:  deps.IngressHost,
		pollInterval: deps.PollInterval,
	}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	impl := kafkasinkreconciler.NewImpl(ctx, r)
	r.tracker = impl.Tracker
	addHandler(ctx, kafkasinkinformer.Get(ctx).Informer(), controller.HandleAll(impl.Enqueue))
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
