package trigger

import (
	"context"
	"slices"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	brokerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/broker"
	triggerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/trigger"
	triggerreconciler "knative.dev/eventing/pkg/client/injection/reconciler/eventing/v1/trigger"
	eventinglisters "knative.dev/eventing/pkg/client/listers/eventing/v1"
	"knative.dev/eventing/pkg/duck"
	"knative.dev/pkg/client/injection/ducks/duck/v1/source"
	configmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap"
	secretinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/secret"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/broker"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
)

// FinalizerName is the Trigger finalizer; it is the one Knative's Kafka broker uses, so Triggers
// it created are finalized by us after a switch.
const FinalizerName = "kafka.triggers.eventing.knative.dev"

// Deps are the collaborators of the Trigger reconciler.
type Deps struct {
	// Kafka returns the cluster of a broker's bootstrap servers (see broker.KafkaFrom).
	Kafka broker.KafkaFunc
	// Contract receives the triggers' egresses.
	Contract ContractStore
	// DataPlane tells when the data plane serves a trigger.
	DataPlane DataPlane
	// PollInterval is how often a Trigger is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the Trigger controller. It looks only at Triggers whose Broker has class
// Kafka (or that carry FinalizerName, so they can be finalized); other Triggers are never
// enqueued, so never touched.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	brokerInformer := brokerinformer.Get(ctx)
	triggerInformer := triggerinformer.Get(ctx)
	r := &Reconciler{
		brokers:         brokerInformer.Lister(),
		configMaps:      configmapinformer.Get(ctx).Lister(),
		credentials:     kafka.NewCredentials(secretinformer.Get(ctx).Lister()),
		kafka:           deps.Kafka,
		contract:        deps.Contract,
		dataPlane:       deps.DataPlane,
		systemNamespace: nametemplates.SystemNamespace(),
		pollInterval:    deps.PollInterval,
	}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	ours := kafkaTriggers(r.brokers)
	impl := triggerreconciler.NewImpl(ctx, r, func(*controller.Impl) controller.Options {
		return controller.Options{FinalizerName: FinalizerName, PromoteFilterFunc: ours}
	})
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)
	// A change of a Trigger's knative.dev/dependency object requeues the Trigger.
	r.dependencies = duck.NewListableTrackerFromTracker(ctx, source.Get, impl.Tracker)

	addHandler(ctx, triggerInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: ours,
		Handler:    controller.HandleAll(impl.Enqueue),
	})
	// A Kafka Broker's change (readiness, delivery, dead-letter sink) requeues its Triggers.
	addHandler(ctx, brokerInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: pkgreconciler.AnnotationFilterFunc(eventingv1.BrokerClassAnnotationKey, eventing.BrokerClass, false),
		Handler:    controller.HandleAll(enqueueTriggersOf(ctx, triggerInformer.Lister(), impl.Enqueue)),
	})
	// A changed config-kafka-features requeues the Kafka Brokers' Triggers: one that could not be
	// named may be now.
	nametemplates.Watch(ctx, configmapinformer.Get(ctx).Informer(), r.systemNamespace, func() { impl.FilteredGlobalResync(ours, triggerInformer.Informer()) })
	return impl
}

// kafkaTriggers selects the Triggers whose Broker has class Kafka, and those we already finalize.
func kafkaTriggers(brokers eventinglisters.BrokerLister) func(any) bool {
	return func(obj any) bool {
		t, ok := obj.(*eventingv1.Trigger)
		if !ok {
			return false
		}
		if slices.Contains(t.Finalizers, FinalizerName) {
			return true
		}
		b, err := brokers.Brokers(t.Namespace).Get(t.Spec.Broker)
		return err == nil && isKafka(b)
	}
}

func enqueueTriggersOf(ctx context.Context, triggers eventinglisters.TriggerLister, enqueue func(any)) func(any) {
	return func(obj any) {
		b, ok := obj.(*eventingv1.Broker)
		if !ok {
			return
		}
		list, err := triggers.Triggers(b.Namespace).List(labels.Everything())
		if err != nil {
			logging.FromContext(ctx).Desugar().Warn("listing triggers", zap.String("resource", string(b.UID)), zap.Error(err))
			return
		}
		for _, t := range list {
			if t.Spec.Broker == b.Name {
				enqueue(t)
			}
		}
	}
}

// addHandler adds h to informer; failing to is a programming error (the informer already stopped).
func addHandler(ctx context.Context, informer cache.SharedInformer, h cache.ResourceEventHandler) {
	if _, err := informer.AddEventHandler(h); err != nil {
		logging.FromContext(ctx).Desugar().Fatal("adding an informer event handler", zap.Error(err))
	}
}
