package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

// Names users see, as today's Kafka broker has them (DESIGN.md §1). The suite spells them out
// rather than asking contractbuild, so a change to them fails here.
const (
	brokerClassAnnotation   = "eventing.knative.dev/broker.class"
	deliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"
	externalTopicAnnotation = "kafka.eventing.knative.dev/external.topic"
)

func brokerTopic(ns, name string) string  { return "knative-broker-" + ns + "-" + name }
func triggerGroup(ns, name string) string { return "knative-trigger-" + ns + "-" + name }
func channelTopic(ns, name string) string { return "knative-messaging-kafka." + ns + "." + name }
func brokerAddress(ns, name string) string {
	return "http://kafka-broker-ingress.knative-eventing.svc.cluster.local/" + ns + "/" + name
}
func channelAddress(ns, name string) string {
	return "http://" + name + "-kn-channel." + ns + ".svc.cluster.local"
}
func subscriptionGroup(ns, channel, uid string) string {
	return "kafka." + ns + "." + channel + "." + uid
}

// newBroker is a Kafka-class Broker using kafka-broker-config.
func newBroker(ns, name string, opts ...func(*eventingv1.Broker)) *eventingv1.Broker {
	b := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{brokerClassAnnotation: "Kafka"}},
		Spec: eventingv1.BrokerSpec{Config: &duckv1.KReference{
			APIVersion: "v1", Kind: "ConfigMap", Namespace: systemNamespace, Name: "kafka-broker-config",
		}},
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

func withExternalTopic(topic string) func(*eventingv1.Broker) {
	return func(b *eventingv1.Broker) { b.Annotations[externalTopicAnnotation] = topic }
}

// newTrigger is a Trigger of broker delivering to subscriber, defaulted as Knative's webhook
// would.
func newTrigger(ns, name, broker string, subscriber *apis.URL, opts ...func(*eventingv1.Trigger)) *eventingv1.Trigger {
	t := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       eventingv1.TriggerSpec{Broker: broker, Subscriber: duckv1.Destination{URI: subscriber}},
	}
	for _, o := range opts {
		o(t)
	}
	t.SetDefaults(context.Background())
	return t
}

func withFilter(attributes map[string]string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) {
		t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: attributes}
	}
}

func withOrdered(t *eventingv1.Trigger) {
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[deliveryOrderAnnotation] = "ordered"
}

// withDeadLetterSink retries once after 100 ms, then hands the event to dls.
func withDeadLetterSink(dls *apis.URL) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) {
		policy := eventingduckv1.BackoffPolicyLinear
		t.Spec.Delivery = &eventingduckv1.DeliverySpec{
			DeadLetterSink: &duckv1.Destination{URI: dls},
			Retry:          ptr.Int32(1),
			BackoffPolicy:  &policy,
			BackoffDelay:   ptr.String("PT0.1S"),
		}
	}
}

// newKafkaChannel is a KafkaChannel defaulted as our webhook would.
func newKafkaChannel(ns, name string, opts ...func(*messagingv1beta1.KafkaChannel)) *messagingv1beta1.KafkaChannel {
	kc := &messagingv1beta1.KafkaChannel{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, o := range opts {
		o(kc)
	}
	kc.SetDefaults(context.Background())
	return kc
}

// newSubscription subscribes subscriber (replying to reply, when not nil) to the channel of
// apiVersion and kind, defaulted as Knative's webhook would.
func newSubscription(ns, name, apiVersion, kind, channel string, subscriber, reply *apis.URL) *messagingv1.Subscription {
	sub := &messagingv1.Subscription{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: messagingv1.SubscriptionSpec{
			Channel:    duckv1.KReference{APIVersion: apiVersion, Kind: kind, Name: channel},
			Subscriber: &duckv1.Destination{URI: subscriber},
		},
	}
	if reply != nil {
		sub.Spec.Reply = &duckv1.Destination{URI: reply}
	}
	sub.SetDefaults(context.Background())
	return sub
}

// brokerConditions reads a Broker's conditions.
func brokerConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		b, err := s.cluster.Eventing.EventingV1().Brokers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return b.Status.Conditions, nil
	}
}

func triggerConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		tr, err := s.cluster.Eventing.EventingV1().Triggers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return tr.Status.Conditions, nil
	}
}

func kafkaChannelConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		kc, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return kc.Status.Conditions, nil
	}
}

func subscriptionConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		sub, err := s.cluster.Eventing.MessagingV1().Subscriptions(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return sub.Status.Conditions, nil
	}
}

func channelConditions(s *suite, ns, name string) conditionsOf {
	return func(ctx context.Context) (duckv1.Conditions, error) {
		ch, err := s.cluster.Eventing.MessagingV1().Channels(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return ch.Status.Conditions, nil
	}
}

// createBroker creates b and returns the server's copy.
func createBroker(t *testing.T, s *suite, b *eventingv1.Broker) *eventingv1.Broker {
	t.Helper()
	out, err := s.cluster.Eventing.EventingV1().Brokers(b.Namespace).Create(ctxFor(t, 30*time.Second), b, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Broker %s/%s: %v", b.Namespace, b.Name, err)
	}
	return out
}

func createTrigger(t *testing.T, s *suite, tr *eventingv1.Trigger) *eventingv1.Trigger {
	t.Helper()
	out, err := s.cluster.Eventing.EventingV1().Triggers(tr.Namespace).Create(ctxFor(t, 30*time.Second), tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Trigger %s/%s: %v", tr.Namespace, tr.Name, err)
	}
	return out
}

func createKafkaChannel(t *testing.T, s *suite, kc *messagingv1beta1.KafkaChannel) *messagingv1beta1.KafkaChannel {
	t.Helper()
	out, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(kc.Namespace).Create(ctxFor(t, 30*time.Second), kc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating KafkaChannel %s/%s: %v", kc.Namespace, kc.Name, err)
	}
	return out
}

func createSubscription(t *testing.T, s *suite, sub *messagingv1.Subscription) *messagingv1.Subscription {
	t.Helper()
	out, err := s.cluster.Eventing.MessagingV1().Subscriptions(sub.Namespace).Create(ctxFor(t, 30*time.Second), sub, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Subscription %s/%s: %v", sub.Namespace, sub.Name, err)
	}
	return out
}
