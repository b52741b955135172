package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	messagingconfig "knative.dev/eventing/pkg/apis/messaging/config"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
)

// defaultChannelConfig is Knative core's default-ch-config: KafkaChannels with 5 partitions for
// the namespace `default`, InMemoryChannels everywhere else.
const defaultChannelConfig = `clusterDefault:
  apiVersion: messaging.knative.dev/v1
  kind: InMemoryChannel
namespaceDefaults:
  default:
    apiVersion: messaging.knative.dev/v1beta1
    kind: KafkaChannel
    spec:
      numPartitions: 5
      replicationFactor: 1
`

var inMemoryChannels = schema.GroupVersionResource{Group: "messaging.knative.dev", Version: "v1", Resource: "inmemorychannels"}

// testChannelDefaulting creates generic Channels the way Knative does it: its defaulting code
// (messagingv1.Channel.SetDefaults with default-ch-webhook loaded by its config store) picks the
// implementation, and its Channel reconciler creates the backing channel. In `default` that is a
// KafkaChannel with 5 partitions, which we reconcile — topic, address, and a Subscription on the
// generic Channel delivering through it; elsewhere it is an InMemoryChannel.
func testChannelDefaulting(t *testing.T, s *suite) {
	k := useKnativeCore(t, s)
	const name = "defaulted"
	ns, other := "default", namespace(t, s, "e2e-default-imc")
	topic := channelTopic(ns, name)
	s.forgetKafka(t, topic)
	t.Cleanup(func() { s.deleteDefaultedChannels(t, ns, other, name) })

	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, systemNamespace, messagingconfig.ChannelDefaultsConfigName,
		map[string]string{messagingconfig.ChannelDefaulterKey: defaultChannelConfig}); err != nil {
		t.Fatal(err)
	}
	ctx := channelDefaults(t, s, k, func(d *messagingconfig.ChannelDefaults) error {
		c, err := d.GetChannelConfig(ns)
		if err != nil {
			return err
		}
		if c.Kind != "KafkaChannel" {
			return fmt.Errorf("namespace %s defaults to %s", ns, c.Kind)
		}
		return nil
	})

	for _, tc := range []struct{ namespace, kind string }{{ns, "KafkaChannel"}, {other, "InMemoryChannel"}} {
		ch := &messagingv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: tc.namespace, Name: name}}
		ch.SetDefaults(ctx)
		if ch.Spec.ChannelTemplate == nil || ch.Spec.ChannelTemplate.Kind != tc.kind {
			t.Fatalf("Knative's defaulting gave the Channel in %s the template %+v, want a %s", tc.namespace, ch.Spec.ChannelTemplate, tc.kind)
		}
		if _, err := s.cluster.Eventing.MessagingV1().Channels(tc.namespace).Create(ctx, ch, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Channel %s/%s: %v", tc.namespace, name, err)
		}
	}

	// In `default`: a KafkaChannel backs the Channel, with the template's spec, and we serve it.
	channels := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns)
	eventually(t, 30*time.Second, "the backing KafkaChannel "+ns+"/"+name, func() (bool, string) {
		kc, err := channels.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if kc.Spec.NumPartitions != 5 || kc.Spec.ReplicationFactor != 1 {
			return false, fmt.Sprintf("spec %+v", kc.Spec)
		}
		owner := metav1.GetControllerOf(kc)
		return owner != nil && owner.Kind == "Channel" && owner.Name == name, fmt.Sprintf("controller %+v", owner)
	})
	eventually(t, 60*time.Second, "topic "+topic+" with 5 partitions", func() (bool, string) {
		n, ok, err := topicPartitions(ctx, s.kafka, topic)
		return ok && n == 5, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
	})
	waitReady(t, 60*time.Second, "Channel "+ns+"/"+name, channelConditions(s, ns, name))
	ch, err := s.cluster.Eventing.MessagingV1().Channels(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := ch.Status.Channel; ref == nil || ref.Kind != "KafkaChannel" || ref.APIVersion != "messaging.knative.dev/v1beta1" {
		t.Errorf("Channel status.channel = %+v, want the KafkaChannel", ref)
	}
	if ch.Status.Address == nil || ch.Status.Address.URL.String() != channelAddress(ns, name) {
		t.Errorf("Channel address = %+v, want %s (the KafkaChannel's)", ch.Status.Address, channelAddress(ns, name))
	}

	// A Subscription on the generic Channel delivers through the KafkaChannel.
	subscriber := newSink(t, "defaulted-channel-subscriber")
	createSubscription(t, s, newSubscription(ns, name, "messaging.knative.dev/v1", "Channel", name, subscriber.url, nil))
	waitReady(t, 60*time.Second, "Subscription "+ns+"/"+name, subscriptionConditions(s, ns, name))
	s.mustSend(t, hostOf(ch.Status.Address.URL), "/", event("d-0", "e2e.defaulted", "/e2e/defaulted", nil))
	subscriber.waitFor(t, 30*time.Second, []string{"d-0"})

	// Elsewhere: an InMemoryChannel backs it, and no KafkaChannel or topic exists.
	eventually(t, 30*time.Second, "the backing InMemoryChannel "+other+"/"+name, func() (bool, string) {
		imc, err := s.cluster.Dynamic.Resource(inMemoryChannels).Namespace(other).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		owner := metav1.GetControllerOf(imc)
		return owner != nil && owner.Kind == "Channel" && owner.Name == name, fmt.Sprintf("controller %+v", owner)
	})
	list, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(other).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("namespace %s has %d KafkaChannels, want none: its Channels default to InMemoryChannel", other, len(list.Items))
	}
	if _, ok, err := topicPartitions(ctx, s.kafka, channelTopic(other, name)); ok || err != nil {
		t.Errorf("topic %s exists=%t (err %v), want no topic for an InMemoryChannel", channelTopic(other, name), ok, err)
	}
}

// deleteDefaultedChannels deletes what testChannelDefaulting made. Without kube-controller-manager
// nothing garbage-collects the backing channels the Channels own, so it deletes them too and
// waits for our KafkaChannel finalizer, which deletes the topic.
func (s *suite) deleteDefaultedChannels(t *testing.T, ns, other, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	messaging := s.cluster.Eventing.MessagingV1()
	ignore := func(err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	for _, err := range []error{
		ignore(messaging.Subscriptions(ns).Delete(ctx, name, metav1.DeleteOptions{})),
		ignore(messaging.Channels(ns).Delete(ctx, name, metav1.DeleteOptions{})),
		ignore(messaging.Channels(other).Delete(ctx, name, metav1.DeleteOptions{})),
		ignore(s.cluster.Dynamic.Resource(inMemoryChannels).Namespace(other).Delete(ctx, name, metav1.DeleteOptions{})),
		ignore(s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Delete(ctx, name, metav1.DeleteOptions{})),
	} {
		if err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	}
	for ctx.Err() == nil {
		_, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.collectChannelService(ctx, t, ns, name, "")
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("KafkaChannel %s/%s was not deleted within 60 s of the end of the test", ns, name)
}

// testSubscriptionOnKafkaChannel subscribes to a KafkaChannel through Knative core's Subscription
// reconciler: the subscriber gets the channel's events in order, its replies reach the reply
// target, the KafkaChannel lists the subscriber ready and the Subscription is Ready.
func testSubscriptionOnKafkaChannel(t *testing.T, s *suite) {
	useKnativeCore(t, s)
	ns := namespace(t, s, "e2e-subscription")
	const channel, subscription = "orders", "orders-to-fulfilment"
	topic := channelTopic(ns, channel)
	s.forgetKafka(t, topic)
	channels := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns)
	t.Cleanup(func() { s.deleteSubscriptionAndChannel(t, ns, subscription, channel) })

	createKafkaChannel(t, s, newKafkaChannel(ns, channel))
	waitReady(t, 60*time.Second, "KafkaChannel "+ns+"/"+channel, kafkaChannelConditions(s, ns, channel))
	kc, err := channels.Get(context.Background(), channel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kc.Status.Address == nil || kc.Status.Address.URL.String() != channelAddress(ns, channel) {
		t.Fatalf("KafkaChannel address = %+v, want %s", kc.Status.Address, channelAddress(ns, channel))
	}
	if n, ok, err := topicPartitions(context.Background(), s.kafka, topic); !ok || n != 1 {
		t.Errorf("topic %s: exists=%t partitions=%d err=%v, want 1 partition (the default)", topic, ok, n, err)
	}

	subscriber := newSink(t, "channel-subscriber", replying("e2e.fulfilled"))
	replies := newSink(t, "channel-replies")
	created := time.Now()
	sub := createSubscription(t, s, newSubscription(ns, subscription, "messaging.knative.dev/v1beta1", "KafkaChannel", channel, subscriber.url, replies.url))
	took := waitReady(t, 60*time.Second, "Subscription "+ns+"/"+subscription, subscriptionConditions(s, ns, subscription))
	ready := time.Now()
	t.Logf("Subscription %s/%s Ready %s after it was created", ns, subscription, took.Round(time.Millisecond))

	kc, err = channels.Get(context.Background(), channel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(kc.Status.Subscribers, func(st eventingduckv1.SubscriberStatus) bool { return st.UID == sub.UID })
	if i < 0 || kc.Status.Subscribers[i].Ready != corev1.ConditionTrue {
		t.Errorf("KafkaChannel status.subscribers = %+v, want subscriber %s ready", kc.Status.Subscribers, sub.UID)
	}
	group := subscriptionGroup(ns, channel, string(sub.UID))
	if groups, err := listGroups(context.Background(), s.admin); err != nil || !slices.Contains(groups, group) {
		t.Errorf("consumer group %s not listed once the Subscription is Ready (err %v); groups: %v", group, err, groups)
	}

	// Through the channel's address, host-routed like the kn-channel Service.
	want := ids("c", 10)
	for _, id := range want {
		s.mustSend(t, hostOf(kc.Status.Address.URL), "/", event(id, "e2e.order", "/e2e/orders", nil))
	}
	subscriber.waitFor(t, 60*time.Second, want)
	replies.waitFor(t, 60*time.Second, ids("reply-c", 10))
	waitCaughtUp(t, s.admin, topic, group)
	if first, ok := subscriber.first(); ok {
		t.Logf("Subscription %s: created → Ready %s, → first delivery %s", subscription,
			ready.Sub(created).Round(time.Millisecond), first.Sub(created).Round(time.Millisecond))
	}

	subscriber.checkExactly(t, want)
	if got := subscriber.ids(); !slices.Equal(got, want) {
		t.Errorf("subscriber received %v, want c-0 … c-9 in order (channel subscriptions are ordered)", firstN(got, 40))
	}
	replies.checkExactly(t, ids("reply-c", 10))
	checkEach(t, replies, "is a reply", func(d delivered) string { return d.event.Type() }, "e2e.fulfilled")
}

// deleteSubscriptionAndChannel deletes the Subscription, then the channel, and waits for their
// finalizers.
func (s *suite) deleteSubscriptionAndChannel(t *testing.T, ns, subscription, channel string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	subs := s.cluster.Eventing.MessagingV1().Subscriptions(ns)
	if err := subs.Delete(ctx, subscription, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Subscription %s: %v", subscription, err)
	}
	for ctx.Err() == nil {
		if _, err := subs.Get(ctx, subscription, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(poll)
	}
	channels := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns)
	if err := channels.Delete(ctx, channel, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting KafkaChannel %s: %v", channel, err)
	}
	for ctx.Err() == nil {
		if _, err := channels.Get(ctx, channel, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			s.collectChannelService(ctx, t, ns, channel, "")
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("Subscription %s or KafkaChannel %s in %s not deleted within 60 s of the end of the test", subscription, channel, ns)
}

// collectChannelService does what Kubernetes' garbage collector (not running here) does once a
// KafkaChannel is gone: it deletes the <name>-kn-channel Service the channel owned. It fails t
// when the Service is not controlled by a KafkaChannel of that name (with the UID uid, when not
// empty).
func (s *suite) collectChannelService(ctx context.Context, t *testing.T, ns, name string, uid types.UID) {
	t.Helper()
	services := s.cluster.Kube.CoreV1().Services(ns)
	svc, err := services.Get(ctx, name+"-kn-channel", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	} else if err != nil {
		t.Errorf("reading the Service of KafkaChannel %s/%s: %v", ns, name, err)
		return
	}
	owner := metav1.GetControllerOf(svc)
	if owner == nil || owner.Kind != "KafkaChannel" || owner.Name != name || (uid != "" && owner.UID != uid) {
		t.Errorf("Service %s/%s is controlled by %+v, want KafkaChannel %s (uid %q), so that it goes with the channel", ns, svc.Name, owner, name, uid)
		return
	}
	if err := services.Delete(ctx, svc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Service %s/%s: %v", ns, svc.Name, err)
	}
}
