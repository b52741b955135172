package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingconfig "knative.dev/eventing/pkg/apis/messaging/config"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
)

// The scenarios of this file check what issue 17 asks of compatibility with Knative and with its
// Kafka broker and channel (docs/compatibility.md): KafkaChannels written as
// messaging.knative.dev/v1, a Trigger's knative.dev/dependency annotation and subscriber ref with
// a uri path, and a Broker's delivery inherited by its Triggers.

// kafkaChannelsV1 is the KafkaChannel resource under the version the CRD serves beside v1beta1.
var kafkaChannelsV1 = schema.GroupVersionResource{Group: "messaging.knative.dev", Version: "v1", Resource: "kafkachannels"}

// v1ChannelNamespace is the namespace whose generic Channels default-ch-webhook backs with
// messaging.knative.dev/v1 KafkaChannels in testKafkaChannelV1.
const v1ChannelNamespace = "e2e-kafkachannel-v1"

// defaultChannelConfigV1 is defaultChannelConfig with v1ChannelNamespace defaulting to v1
// KafkaChannels of 2 partitions.
const defaultChannelConfigV1 = defaultChannelConfig + `  ` + v1ChannelNamespace + `:
    apiVersion: messaging.knative.dev/v1
    kind: KafkaChannel
    spec:
      numPartitions: 2
      replicationFactor: 1
`

// testKafkaChannelV1 uses KafkaChannels as messaging.knative.dev/v1, as manifests written for
// Knative's Kafka channel may: one created as v1 directly, with a Subscription naming it as v1, and
// one made by Knative's Channel reconciler from a default-ch-webhook template naming v1. Our
// controller watches v1beta1; the API server serves the same objects under both versions.
func testKafkaChannelV1(t *testing.T, s *suite) {
	k := useKnativeCore(t, s)
	ns := namespace(t, s, v1ChannelNamespace)
	const direct, subscription, generic = "written-as-v1", "on-v1", "defaulted-v1"
	s.forgetKafka(t, channelTopic(ns, direct))
	s.forgetKafka(t, channelTopic(ns, generic))
	t.Cleanup(func() { s.deleteSubscriptionAndChannel(t, ns, subscription, direct) })

	// 1. A KafkaChannel written as v1 with an empty spec: the schema defaults its fields (our
	// webhook, not running here, would too), we serve it, and it reads the same under both
	// versions.
	kc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "messaging.knative.dev/v1",
		"kind":       "KafkaChannel",
		"metadata":   map[string]any{"name": direct, "namespace": ns},
		"spec":       map[string]any{},
	}}
	if _, err := s.cluster.Dynamic.Resource(kafkaChannelsV1).Namespace(ns).Create(ctxFor(t, 30*time.Second), kc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a messaging.knative.dev/v1 KafkaChannel: %v", err)
	}
	waitReady(t, 60*time.Second, "KafkaChannel "+ns+"/"+direct, kafkaChannelConditions(s, ns, direct))
	stored, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctxFor(t, 30*time.Second), direct, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Spec.NumPartitions != 1 || stored.Spec.ReplicationFactor != 1 || stored.Spec.RetentionDuration != "PT168H" {
		t.Errorf("the v1 KafkaChannel read as v1beta1 has spec %+v, want the defaults 1, 1, PT168H", stored.Spec)
	}
	asV1, err := s.cluster.Dynamic.Resource(kafkaChannelsV1).Namespace(ns).Get(ctxFor(t, 30*time.Second), direct, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if url, _, _ := unstructured.NestedString(asV1.Object, "status", "address", "url"); asV1.GetAPIVersion() != "messaging.knative.dev/v1" || url != channelAddress(ns, direct) {
		t.Errorf("read as v1: apiVersion %s, status.address.url %q, want messaging.knative.dev/v1 and %s", asV1.GetAPIVersion(), url, channelAddress(ns, direct))
	}
	if n, ok, err := topicPartitions(context.Background(), s.kafka, channelTopic(ns, direct)); !ok || n != 1 {
		t.Errorf("topic %s: exists=%t partitions=%d err=%v, want 1 partition", channelTopic(ns, direct), ok, n, err)
	}

	// A Subscription naming the channel as v1, through Knative core's Subscription reconciler.
	subscriber := newSink(t, "v1-channel-subscriber")
	createSubscription(t, s, newSubscription(ns, subscription, "messaging.knative.dev/v1", "KafkaChannel", direct, subscriber.url, nil))
	waitReady(t, 60*time.Second, "Subscription "+ns+"/"+subscription, subscriptionConditions(s, ns, subscription))
	s.mustSend(t, hostOf(mustURL(t, channelAddress(ns, direct))), "/", event("v1-0", "e2e.v1", "/e2e/v1", nil))
	subscriber.waitFor(t, 60*time.Second, []string{"v1-0"})

	// 2. A generic Channel defaulted by default-ch-webhook to a v1 KafkaChannel template.
	t.Cleanup(func() {
		// Leave default-ch-webhook as the other scenarios expect it.
		if err := applyConfigMap(context.Background(), s.cluster, systemNamespace, messagingconfig.ChannelDefaultsConfigName,
			map[string]string{messagingconfig.ChannelDefaulterKey: defaultChannelConfig}); err != nil {
			t.Errorf("restoring %s: %v", messagingconfig.ChannelDefaultsConfigName, err)
		}
	})
	t.Cleanup(func() { s.deleteDefaultedChannels(t, ns, ns, generic) })
	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, systemNamespace, messagingconfig.ChannelDefaultsConfigName,
		map[string]string{messagingconfig.ChannelDefaulterKey: defaultChannelConfigV1}); err != nil {
		t.Fatal(err)
	}
	ctx := channelDefaults(t, s, k, func(d *messagingconfig.ChannelDefaults) error {
		c, err := d.GetChannelConfig(ns)
		if err != nil {
			return err
		}
		if c.Kind != "KafkaChannel" || c.APIVersion != "messaging.knative.dev/v1" {
			return fmt.Errorf("namespace %s defaults to %s %s", ns, c.APIVersion, c.Kind)
		}
		return nil
	})
	ch := &messagingv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: generic}}
	ch.SetDefaults(ctx)
	if tpl := ch.Spec.ChannelTemplate; tpl == nil || tpl.APIVersion != "messaging.knative.dev/v1" || tpl.Kind != "KafkaChannel" {
		t.Fatalf("Knative's defaulting gave the Channel the template %+v, want a messaging.knative.dev/v1 KafkaChannel", ch.Spec.ChannelTemplate)
	}
	if _, err := s.cluster.Eventing.MessagingV1().Channels(ns).Create(ctx, ch, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Channel %s/%s: %v", ns, generic, err)
	}
	waitReady(t, 60*time.Second, "Channel "+ns+"/"+generic, channelConditions(s, ns, generic))
	backing, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctx, generic, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the backing KafkaChannel as v1beta1: %v", err)
	}
	if backing.Spec.NumPartitions != 2 {
		t.Errorf("the backing KafkaChannel has spec %+v, want the template's 2 partitions", backing.Spec)
	}
	if owner := metav1.GetControllerOf(backing); owner == nil || owner.Kind != "Channel" || owner.Name != generic {
		t.Errorf("the backing KafkaChannel is controlled by %+v, want Channel %s", owner, generic)
	}
	got, err := s.cluster.Eventing.MessagingV1().Channels(ns).Get(ctx, generic, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := got.Status.Channel; ref == nil || ref.Kind != "KafkaChannel" || ref.APIVersion != "messaging.knative.dev/v1" {
		t.Errorf("Channel status.channel = %+v, want the v1 KafkaChannel", ref)
	}
	if n, ok, err := topicPartitions(ctx, s.kafka, channelTopic(ns, generic)); !ok || n != 2 {
		t.Errorf("topic %s: exists=%t partitions=%d err=%v, want 2 partitions", channelTopic(ns, generic), ok, n, err)
	}
	genericSubscriber := newSink(t, "v1-generic-subscriber")
	createSubscription(t, s, newSubscription(ns, generic, "messaging.knative.dev/v1", "Channel", generic, genericSubscriber.url, nil))
	waitReady(t, 60*time.Second, "Subscription "+ns+"/"+generic, subscriptionConditions(s, ns, generic))
	s.mustSend(t, hostOf(got.Status.Address.URL), "/", event("v1-generic-0", "e2e.v1", "/e2e/v1", nil))
	genericSubscriber.waitFor(t, 60*time.Second, []string{"v1-generic-0"})
}

// testTriggerCompat checks a Broker's delivery inherited by a Trigger without its own (a failing
// event reaches the Broker's dead-letter sink after the Broker's retries), and a Trigger that
// depends, by knative.dev/dependency, on the KafkaSource feeding the Broker: not Ready while the
// source does not exist, Ready once it is, its subscriber a Service's path.
func testTriggerCompat(t *testing.T, s *suite) {
	ns := namespace(t, s, "e2e-trigger-compat")
	const broker, inheriting, dependent, source, service = "compat", "inheriting", "dependent", "feed", "dependent-display"
	const feedTopic = "e2e-trigger-compat-feed"
	s.forgetKafka(t, brokerTopic(ns, broker), triggerGroup(ns, inheriting), triggerGroup(ns, dependent))
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, broker, []string{inheriting, dependent}) })

	// 1. A Broker whose delivery retries once after 100 ms, then dead-letters.
	deadLetters := newSink(t, "broker-dead-letter-sink")
	createBroker(t, s, newBroker(ns, broker, func(b *eventingv1.Broker) {
		linear := eventingduckv1.BackoffPolicyLinear
		b.Spec.Delivery = &eventingduckv1.DeliverySpec{
			DeadLetterSink: &duckv1.Destination{URI: deadLetters.url},
			Retry:          ptr.Int32(1), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.1S"),
		}
	}))
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+broker, brokerConditions(s, ns, broker))

	// 2. A Trigger without delivery, to a failing subscriber: it inherits all of the Broker's.
	failingSink := newSink(t, "inheriting-failing", failing)
	createTrigger(t, s, newTrigger(ns, inheriting, broker, failingSink.url, withFilter(map[string]string{"type": "e2e.inherit"})))
	waitReady(t, 60*time.Second, "Trigger "+ns+"/"+inheriting, triggerConditions(s, ns, inheriting))
	tr, err := s.cluster.Eventing.EventingV1().Triggers(ns).Get(ctxFor(t, 30*time.Second), inheriting, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.DeadLetterSinkURI == nil || tr.Status.DeadLetterSinkURI.String() != deadLetters.url.String() {
		t.Errorf("Trigger %s status.deadLetterSinkUri = %v, want the Broker's %s", inheriting, tr.Status.DeadLetterSinkURI, deadLetters.url)
	}
	s.mustSend(t, brokerIngressHost, "/"+ns+"/"+broker, event("inherit-0", "e2e.inherit", "/e2e/inherit", nil))
	deadLetters.waitFor(t, 60*time.Second, []string{"inherit-0"})
	waitCaughtUp(t, s.admin, brokerTopic(ns, broker), triggerGroup(ns, inheriting))
	failingSink.checkAttempts(t, map[string]int{"inherit-0": 2})
	deadLetters.checkExactly(t, []string{"inherit-0"})
	checkEach(t, deadLetters, "the error extensions name the Trigger's subscriber", errorExtensions,
		fmt.Sprintf("knativeerrordest=%s knativeerrorcode=500 knativeerrordata=Ym9vbQ==", failingSink.url))

	// 3. A Trigger depending on a KafkaSource that does not exist yet; its subscriber a Service's
	// path, by ref and uri.
	subscriber := newSink(t, service)
	s.createService(t, ns, service)
	s.dns.registerService(t, ns, service, subscriber.url.String())
	dependency := fmt.Sprintf(`{"kind":"KafkaSource","name":%q,"apiVersion":"sources.knative.dev/v1beta1"}`, source)
	createTrigger(t, s, newTrigger(ns, dependent, broker, &apis.URL{Path: "/dependent/path"},
		withFilter(map[string]string{"type": "e2e.dependent"}),
		func(tr *eventingv1.Trigger) {
			tr.Annotations = map[string]string{eventingv1.DependencyAnnotation: dependency}
			tr.Spec.Subscriber.Ref = &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: service}
		}))
	waitCondition(t, 60*time.Second, "Trigger "+ns+"/"+dependent, triggerConditions(s, ns, dependent),
		eventingv1.TriggerConditionDependency, corev1.ConditionFalse, "DependencyDoesNotExist")
	waitNotReady(t, 10*time.Second, "Trigger "+ns+"/"+dependent, triggerConditions(s, ns, dependent), "DependencyDoesNotExist", source)

	// The KafkaSource feeding the Broker: once it is Ready, so is the Trigger (the tracker requeues it).
	s.userTopic(t, feedTopic, 1)
	ks := createKafkaSource(t, s, newKafkaSource(ns, source, []string{feedTopic}, s.servers,
		duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: broker},
		func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.InitialOffset = sourcesv1beta1.OffsetEarliest }))
	t.Cleanup(func() { s.deleteKafkaSource(t, ns, source, ks.Spec.ConsumerGroup) })
	waitReady(t, 90*time.Second, "KafkaSource "+ns+"/"+source, kafkaSourceConditions(s, ns, source))
	waitReady(t, 60*time.Second, "Trigger "+ns+"/"+dependent, triggerConditions(s, ns, dependent))
	tr, err = s.cluster.Eventing.EventingV1().Triggers(ns).Get(ctxFor(t, 30*time.Second), dependent, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://" + serviceHost(ns, service) + "/dependent/path"; tr.Status.SubscriberURI.String() != want {
		t.Errorf("Trigger %s resolved its subscriber to %s, want %s", dependent, tr.Status.SubscriberURI, want)
	}
	s.mustSend(t, brokerIngressHost, "/"+ns+"/"+broker, event("dependent-0", "e2e.dependent", "/e2e/dependent", nil))
	subscriber.waitFor(t, 60*time.Second, []string{"dependent-0"})
	checkEach(t, subscriber, "arrived at the uri's path", func(d delivered) string { return d.path }, "/dependent/path")
	checkNoUnknownHosts(t, s)
}

// waitCondition waits until the condition typ of an object has status and reason.
func waitCondition(t *testing.T, within time.Duration, what string, get conditionsOf, typ apis.ConditionType, status corev1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, within, fmt.Sprintf("%s %s %s with reason %s", what, typ, status, reason), func() (bool, string) {
		conds, err := get(context.Background())
		c := findCondition(conds, typ)
		return err == nil && c != nil && c.Status == status && c.Reason == reason, fmt.Sprintf("%v %s", err, describeConditions(conds))
	})
}
