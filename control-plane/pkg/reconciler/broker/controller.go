package broker

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	brokerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/broker"
	triggerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/trigger"
	brokerreconciler "knative.dev/eventing/pkg/client/injection/reconciler/eventing/v1/broker"
	configmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap"
	secretinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/secret"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
)

// Deps are the collaborators of the Broker reconciler.
type Deps struct {
	// Kafka returns the cluster of a broker's bootstrap servers (see KafkaFrom).
	Kafka KafkaFunc
	// Contract receives the brokers' contract entries.
	Contract ContractStore
	// DataPlane tells when the data plane serves a broker.
	DataPlane DataPlane
	// IngressHost is the host of broker addresses; empty means contractbuild.DefaultIngressHost.
	IngressHost string
	// PollInterval is how often a Broker is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the Broker controller. It reconciles only Brokers of class Kafka and
// registers ConditionSet as the process's Broker condition set. It watches Secrets (all of them:
// an auth Secret is named by a ConfigMap and carries no label we could select on) and requeues
// the Brokers tracking the one that changed.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	RegisterConditionSet()
	brokerInformer := brokerinformer.Get(ctx)
	configMapInformer := configmapinformer.Get(ctx)
	secretInformer := secretinformer.Get(ctx)
	r := &Reconciler{
		configMaps:      configMapInformer.Lister(),
		triggers:        triggerinformer.Get(ctx).Lister(),
		credentials:     kafka.NewCredentials(secretInformer.Lister()),
		kafka:           deps.Kafka,
		contract:        deps.Contract,
		dataPlane:       deps.DataPlane,
		ingressHost:     deps.IngressHost,
		systemNamespace: nametemplates.SystemNamespace(),
		pollInterval:    deps.PollInterval,
	}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	kafkaClass := pkgreconciler.AnnotationFilterFunc(brokerreconciler.ClassAnnotationKey, eventing.BrokerClass, false)
	impl := brokerreconciler.NewImpl(ctx, r, eventing.BrokerClass, func(*controller.Impl) controller.Options {
		return controller.Options{PromoteFilterFunc: kafkaClass}
	})
	r.tracker = impl.Tracker
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	addHandler(ctx, brokerInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: kafkaClass,
		Handler:    controller.HandleAll(impl.Enqueue),
	})
	// A change of a broker config ConfigMap requeues the Brokers that use it.
	addHandler(ctx, configMapInformer.Informer(), controller.HandleAll(
		controller.EnsureTypeMeta(impl.Tracker.OnChanged, corev1.SchemeGroupVersion.WithKind("ConfigMap")),
	))
	// A changed config-kafka-features requeues every Kafka Broker: one that could not be named
	// may be now.
	nametemplates.Watch(ctx, configMapInformer.Informer(), r.systemNamespace, func() { impl.FilteredGlobalResync(kafkaClass, brokerInformer.Informer()) })
	// A created, changed (a rotated password) or deleted auth Secret requeues the Brokers whose
	// config names it, and only those.
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
