package kafkachannel

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	eventingfakeclientset "knative.dev/eventing/pkg/client/clientset/versioned/fake"
	messaginglistersv1 "knative.dev/eventing/pkg/client/listers/messaging/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/ptr"
	pkgreconciler "knative.dev/pkg/reconciler"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	fakeclientset "knkafka.dev/control-plane/pkg/client/clientset/versioned/fake"
	fakeclient "knkafka.dev/control-plane/pkg/client/injection/client/fake"
	kafkachannelreconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/messaging/v1beta1/kafkachannel"
	messaginglisters "knkafka.dev/control-plane/pkg/client/listers/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/kafka"
)

const (
	ns          = "ns"
	channelName = "orders"
	channelUID  = "channel-uid"
	channelKey  = ns + "/" + channelName
	topic       = "knative-messaging-kafka.ns.orders"
	finalizer   = "kafkachannels.messaging.knative.dev"
	systemNS    = "knative-eventing"
)

// ChannelOption changes a KafkaChannel built by NewKafkaChannel.
type ChannelOption func(*messagingv1beta1.KafkaChannel)

// NewKafkaChannel is a defaulted, finalized KafkaChannel at generation 1 whose status describes
// that generation with every condition Unknown; opts change it.
func NewKafkaChannel(name, namespace string, opts ...ChannelOption) *messagingv1beta1.KafkaChannel {
	kc := &messagingv1beta1.KafkaChannel{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name, UID: channelUID, Generation: 1,
			Finalizers: []string{finalizer},
		},
		Spec: messagingv1beta1.KafkaChannelSpec{NumPartitions: 3, ReplicationFactor: 1, RetentionDuration: "PT1H"},
	}
	kc.Status.InitializeConditions()
	kc.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(kc)
	}
	return kc
}

// WithSubscribers sets spec.subscribers.
func WithSubscribers(subs ...eventingduckv1.SubscriberSpec) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Spec.Subscribers = subs }
}

// WithSubscriberStatuses sets status.subscribers.
func WithSubscriberStatuses(statuses ...eventingduckv1.SubscriberStatus) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Status.Subscribers = statuses }
}

// WithChannelDelivery sets spec.delivery.
func WithChannelDelivery(d *eventingduckv1.DeliverySpec) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Spec.Delivery = d }
}

// WithRetention sets spec.retentionDuration.
func WithRetention(d string) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Spec.RetentionDuration = d }
}

// WithChannelOrder sets the channel's delivery-order annotation, its Subscriptions' default.
func WithChannelOrder(order string) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) {
		kc.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: order}
	}
}

func withoutFinalizer(kc *messagingv1beta1.KafkaChannel) { kc.Finalizers = nil }

func deleted(kc *messagingv1beta1.KafkaChannel) {
	kc.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
}

func configParsed(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkConfigParsed() }

// topicRecorded records the default topic name in kc's status, as a reconcile does.
func topicRecorded(kc *messagingv1beta1.KafkaChannel) { withRecordedTopic(topic)(kc) }

func withRecordedTopic(name string) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) {
		if kc.Status.Annotations == nil {
			kc.Status.Annotations = map[string]string{}
		}
		kc.Status.Annotations["default.topic"] = name
	}
}

// featuresConfig is config-kafka-features with the given key-value pairs.
func featuresConfig(kv ...string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "config-kafka-features"}, Data: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		cm.Data[kv[i]] = kv[i+1]
	}
	return cm
}

func topicReady(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkTopicReady(topic) }

func serviceReady(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkServiceReady() }

func dlsNotConfigured(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkDeadLetterSinkNotConfigured() }

func dlsResolved(uri *apis.URL) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkDeadLetterSinkResolved(uri) }
}

func dataPlaneUnknown(reason, message string) ChannelOption {
	return func(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkDataPlaneUnknown(reason, "%s", message) }
}

// served marks the data plane available and sets the channel's address.
func served(kc *messagingv1beta1.KafkaChannel) {
	kc.Status.MarkDataPlaneAvailable()
	kc.Status.SetAddress(apis.HTTP("orders-kn-channel.ns.svc.cluster.local"))
}

// prepared is every step before the data plane: config, topic, Service, no dead-letter sink.
func prepared(kc *messagingv1beta1.KafkaChannel) {
	configParsed(kc)
	topicReady(kc)
	serviceReady(kc)
	dlsNotConfigured(kc)
}

// subscriber is a subscriber of the channel as Knative's subscription reconciler writes it.
func subscriber(uid string) eventingduckv1.SubscriberSpec {
	return eventingduckv1.SubscriberSpec{
		Name:          ptr.String("sub-" + uid),
		UID:           types.UID(uid),
		Generation:    1,
		SubscriberURI: apis.HTTP(uid + ".ns.svc.cluster.local"),
	}
}

// NewSubscription is the Subscription sub-<uid> in namespace, on the channel, as Knative core
// stores it; opts change it.
func NewSubscription(uid, namespace string, opts ...func(*messagingv1.Subscription)) *messagingv1.Subscription {
	s := &messagingv1.Subscription{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "sub-" + uid, UID: types.UID(uid), Generation: 1},
		Spec: messagingv1.SubscriptionSpec{
			Channel:    duckv1.KReference{APIVersion: "messaging.knative.dev/v1beta1", Kind: "KafkaChannel", Name: channelName, Namespace: ns},
			Subscriber: &duckv1.Destination{URI: apis.HTTP(uid + ".ns.svc.cluster.local")},
		},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// WithSubscriptionOrder sets a Subscription's delivery-order annotation.
func WithSubscriptionOrder(order string) func(*messagingv1.Subscription) {
	return func(s *messagingv1.Subscription) {
		s.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: order}
	}
}

func subscriberStatus(uid string, ready corev1.ConditionStatus, message string) eventingduckv1.SubscriberStatus {
	return eventingduckv1.SubscriberStatus{UID: types.UID(uid), ObservedGeneration: 1, Ready: ready, Message: message}
}

func channelConfig(opts ...func(*corev1.ConfigMap)) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "kafka-channel-config"},
		Data: map[string]string{
			"bootstrap.servers":    "kafka-1:9092,kafka-2:9092",
			"auth.secret.ref.name": "kafka-auth",
		},
	}
	for _, opt := range opts {
		opt(cm)
	}
	return cm
}

// authSecret is the kafka-auth Secret channelConfig names: SASL_SSL with SCRAM-SHA-512 and the
// system's roots.
func authSecret(opts ...func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "kafka-auth"},
		Data: map[string][]byte{
			"protocol":       []byte("SASL_SSL"),
			"sasl.mechanism": []byte("SCRAM-SHA-512"),
			"user":           []byte("channel-user"),
			"password":       []byte("channel-password"),
		},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// channelServiceObject is the Service the reconciler makes for the default channel.
func channelServiceObject(opts ...func(*corev1.Service)) *corev1.Service {
	svc := channelService(NewKafkaChannel(channelName, ns), systemNS)
	for _, opt := range opts {
		opt(svc)
	}
	return svc
}

// listers serve the objects of a test from indexers, as informers would.
type listers struct {
	sorter ObjectSorter
	scheme *runtime.Scheme
}

func newListers(objs []runtime.Object) listers {
	scheme := runtime.NewScheme()
	utilruntime.Must(kubescheme.AddToScheme(scheme))
	utilruntime.Must(fakeclientset.AddToScheme(scheme))
	utilruntime.Must(eventingfakeclientset.AddToScheme(scheme))
	ls := listers{sorter: NewObjectSorter(scheme), scheme: scheme}
	ls.sorter.AddObjects(objs...)
	return ls
}

func (l listers) kubeObjects() []runtime.Object {
	return l.sorter.ObjectsForSchemeFunc(kubescheme.AddToScheme)
}

func (l listers) channelObjects() []runtime.Object {
	return l.sorter.ObjectsForSchemeFunc(fakeclientset.AddToScheme)
}

func (l listers) channels() messaginglisters.KafkaChannelLister {
	return messaginglisters.NewKafkaChannelLister(l.sorter.IndexerForObjectType(&messagingv1beta1.KafkaChannel{}))
}

func (l listers) subscriptions() messaginglistersv1.SubscriptionLister {
	return messaginglistersv1.NewSubscriptionLister(l.sorter.IndexerForObjectType(&messagingv1.Subscription{}))
}

func (l listers) configMaps() corelisters.ConfigMapLister {
	return corelisters.NewConfigMapLister(l.sorter.IndexerForObjectType(&corev1.ConfigMap{}))
}

func (l listers) secrets() corelisters.SecretLister {
	return corelisters.NewSecretLister(l.sorter.IndexerForObjectType(&corev1.Secret{}))
}

func (l listers) services() corelisters.ServiceLister {
	return corelisters.NewServiceLister(l.sorter.IndexerForObjectType(&corev1.Service{}))
}

// knativeServices is the resource a dead-letter sink reference in the tests points at; the
// dynamic client must know its list kind to look it up.
var knativeServices = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}

// testContext is a context with a logger, an event recorder, the fake clients and the
// addressable duck the resolver needs.
func testContext(t *testing.T, ls listers) (context.Context, *record.FakeRecorder) {
	ctx := logging.WithLogger(context.Background(), logtesting.TestLogger(t))
	dynamic := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(ls.scheme,
		map[schema.GroupVersionResource]string{knativeServices: "ServiceList"})
	ctx = context.WithValue(ctx, dynamicclient.Key{}, dynamic)
	ctx = addressable.WithDuck(ctx)
	recorder := record.NewFakeRecorder(20)
	ctx = controller.WithEventRecorder(ctx, recorder)
	return ctx, recorder
}

// newReconciler is a Reconciler over the listers and fakes, with the fake kube client of ctx.
func newReconciler(ctx context.Context, ls listers, k *fakeKafka, store *fakeStore, dataPlane DataPlane) *Reconciler {
	return &Reconciler{
		configMaps:      ls.configMaps(),
		services:        ls.services(),
		subscriptions:   ls.subscriptions(),
		kube:            fakekubeclient.Get(ctx),
		credentials:     kafka.NewCredentials(ls.secrets()),
		tracker:         &FakeTracker{},
		kafka:           k.get,
		contract:        store,
		dataPlane:       dataPlane,
		resolver:        resolver.NewURIResolverFromTracker(ctx, &FakeTracker{}),
		systemNamespace: systemNS,
		pollInterval:    time.Second,
	}
}

// makeFactory builds the generated KafkaChannel reconciler around a Reconciler that uses the
// row's fakes.
func makeFactory(k *fakeKafka, store *fakeStore, dataPlane DataPlane) Factory {
	return func(t *testing.T, row *TableRow) (controller.Reconciler, ActionRecorderList, EventList) {
		ls := newListers(row.Objects)
		ctx, recorder := testContext(t, ls)
		ctx, kube := fakekubeclient.With(ctx, ls.kubeObjects()...)
		ctx, client := fakeclient.With(ctx, ls.channelObjects()...)
		row.Ctx = ctx
		r := newReconciler(ctx, ls, k, store, dataPlane)
		c := kafkachannelreconciler.NewReconciler(ctx, logging.FromContext(ctx), client, ls.channels(), recorder, r)
		if la, ok := c.(pkgreconciler.LeaderAware); ok {
			_ = la.Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {})
		}
		for _, reactor := range row.WithReactors {
			kube.PrependReactor("*", "*", reactor)
			client.PrependReactor("*", "*", reactor)
		}
		return c, ActionRecorderList{client, kube}, EventList{Recorder: recorder}
	}
}
