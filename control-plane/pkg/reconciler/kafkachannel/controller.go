package kafkachannel

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	subscriptioninformer "knative.dev/eventing/pkg/client/injection/informers/messaging/v1/subscription"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	configmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap"
	secretinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/secret"
	serviceinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/service"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	kafkachannelinformer "knkafka.dev/control-plane/pkg/client/injection/informers/messaging/v1beta1/kafkachannel"
	kafkachannelreconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/messaging/v1beta1/kafkachannel"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
)

// Deps are the collaborators of the KafkaChannel reconciler.
type Deps struct {
	// Kafka returns the cluster of the channels' bootstrap servers (see KafkaFrom).
	Kafka KafkaFunc
	// Contract receives the channels' contract entries and their subscribers' egresses.
	Contract ContractStore
	// DataPlane tells when the data plane serves a channel and its subscribers.
	DataPlane DataPlane
	// PollInterval is how often a channel is checked while the data plane catches up; 0 means 1s.
	PollInterval time.Duration
}

// NewController returns the KafkaChannel controller. It requeues a channel when a Service it owns
// changes, every channel when kafka-channel-config (in the system namespace) changes, the
// channels that use the config's auth Secret when that Secret is created, changed or deleted, and
// a channel when a Subscription to it appears or its delivery-order annotation changes.
func NewController(ctx context.Context, _ configmap.Watcher, deps Deps) *controller.Impl {
	channelInformer := kafkachannelinformer.Get(ctx)
	serviceInformer := serviceinformer.Get(ctx)
	configMapInformer := configmapinformer.Get(ctx)
	secretInformer := secretinformer.Get(ctx)
	subscriptionInformer := subscriptioninformer.Get(ctx)
	r := &Reconciler{
		configMaps:      configMapInformer.Lister(),
		services:        serviceInformer.Lister(),
		subscriptions:   subscriptionInformer.Lister(),
		kube:            kubeclient.Get(ctx),
		credentials:     kafka.NewCredentials(secretInformer.Lister()),
		kafka:           deps.Kafka,
		contract:        deps.Contract,
		dataPlane:       deps.DataPlane,
		systemNamespace: SystemNamespace(),
		pollInterval:    deps.PollInterval,
	}
	if r.pollInterval <= 0 {
		r.pollInterval = time.Second
	}
	impl := kafkachannelreconciler.NewImpl(ctx, r)
	r.tracker = impl.Tracker
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	addHandler(ctx, channelInformer.Informer(), controller.HandleAll(impl.Enqueue))
	addHandler(ctx, serviceInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&messagingv1beta1.KafkaChannel{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	})
	addHandler(ctx, configMapInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterWithNameAndNamespace(r.systemNamespace, contractbuild.ChannelConfigMapName),
		Handler:    controller.HandleAll(func(any) { impl.GlobalResync(channelInformer.Informer()) }),
	})
	// A changed config-kafka-features requeues every channel: one that could not be named may be
	// now.
	nametemplates.Watch(ctx, configMapInformer.Informer(), r.systemNamespace, func() { impl.GlobalResync(channelInformer.Informer()) })
	addHandler(ctx, secretInformer.Informer(), controller.HandleAll(
		controller.EnsureTypeMeta(impl.Tracker.OnChanged, corev1.SchemeGroupVersion.WithKind("Secret")),
	))
	addHandler(ctx, subscriptionInformer.Informer(), subscriptionHandler(impl.EnqueueKey))
	return impl
}

// subscriptionHandler calls enqueue with the channel of a Subscription that was added (its
// subscriber may already be in the channel's spec, built before the lister held the
// Subscription) or whose delivery-order annotation changed. Other changes of a Subscription reach
// the channel through Knative's subscription reconciler, which rewrites spec.subscribers; a
// deleted Subscription leaves spec.subscribers the same way.
func subscriptionHandler(enqueue func(types.NamespacedName)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*messagingv1.Subscription); ok {
				enqueueChannel(s, enqueue)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			before, ok1 := oldObj.(*messagingv1.Subscription)
			after, ok2 := newObj.(*messagingv1.Subscription)
			if !ok1 || !ok2 {
				return
			}
			was, hadOrder := before.Annotations[eventing.DeliveryOrderAnnotation]
			is, hasOrder := after.Annotations[eventing.DeliveryOrderAnnotation]
			if was != is || hadOrder != hasOrder {
				enqueueChannel(after, enqueue)
			}
		},
	}
}

// enqueueChannel enqueues the KafkaChannel s subscribes to: one named in spec.channel, or the one
// backing a generic Channel, which Knative names after that Channel.
func enqueueChannel(s *messagingv1.Subscription, enqueue func(types.NamespacedName)) {
	ref := s.Spec.Channel
	if ref.Kind != "KafkaChannel" && ref.Kind != "Channel" {
		return
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != messagingv1beta1.SchemeGroupVersion.Group {
		return
	}
	namespace := ref.Namespace
	if namespace == "" {
		namespace = s.Namespace
	}
	enqueue(types.NamespacedName{Namespace: namespace, Name: ref.Name})
}

// SystemNamespace is the namespace of kafka-channel-config, config-kafka-features and the channel
// ingress: the SYSTEM_NAMESPACE environment variable (as knative.dev/pkg/system reads it),
// knative-eventing when unset.
func SystemNamespace() string { return nametemplates.SystemNamespace() }

// addHandler adds h to informer; failing to is a programming error (the informer already stopped).
func addHandler(ctx context.Context, informer cache.SharedInformer, h cache.ResourceEventHandler) {
	if _, err := informer.AddEventHandler(h); err != nil {
		logging.FromContext(ctx).Desugar().Fatal("adding an informer event handler", zap.Error(err))
	}
}
