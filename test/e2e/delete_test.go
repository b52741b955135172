package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"knkafka.dev/test/kafkatest"
)

// testDeletion deletes a Broker, a Broker on an external topic and a KafkaChannel, each serving a
// Trigger or Subscription, and checks that each one's topic (but not the external topic), ingress
// route and consumer groups are gone.
func testDeletion(t *testing.T, s *suite) {
	useKnativeCore(t, s)
	ns := namespace(t, s, "e2e-delete")
	const broker, externalBroker, channel = "doomed", "on-external-topic", "doomed-channel"
	const trigger, externalTrigger, subscription = "doomed-trigger", "external-trigger", "doomed-subscription"
	s.forgetKafka(t, brokerTopic(ns, broker), triggerGroup(ns, trigger), triggerGroup(ns, externalTrigger))
	s.forgetKafka(t, channelTopic(ns, channel))
	external := kafkatest.CreateTopic(t, s.servers, 3)
	eventing := s.cluster.Eventing.EventingV1()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range []string{trigger, externalTrigger} {
			_ = eventing.Triggers(ns).Delete(ctx, name, metav1.DeleteOptions{})
		}
		_ = s.cluster.Eventing.MessagingV1().Subscriptions(ns).Delete(ctx, subscription, metav1.DeleteOptions{})
		// Already gone when the test got that far; otherwise their finalizers clean Kafka up.
		_ = eventing.Brokers(ns).Delete(ctx, broker, metav1.DeleteOptions{})
		_ = eventing.Brokers(ns).Delete(ctx, externalBroker, metav1.DeleteOptions{})
		_ = s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Delete(ctx, channel, metav1.DeleteOptions{})
	})

	// Serve all three, each with one live consumer group.
	began := time.Now()
	createBroker(t, s, newBroker(ns, broker))
	createBroker(t, s, newBroker(ns, externalBroker, withExternalTopic(external)))
	kc := createKafkaChannel(t, s, newKafkaChannel(ns, channel))
	waitReady(t, 60*time.Second, "Broker "+broker, brokerConditions(s, ns, broker))
	waitReady(t, 60*time.Second, "Broker "+externalBroker, brokerConditions(s, ns, externalBroker))
	waitReady(t, 60*time.Second, "KafkaChannel "+channel, kafkaChannelConditions(s, ns, channel))
	brokerSink, externalSink, channelSink := newSink(t, "doomed-broker-subscriber"), newSink(t, "external-broker-subscriber"), newSink(t, "doomed-channel-subscriber")
	created := map[string]time.Time{trigger: time.Now()}
	createTrigger(t, s, newTrigger(ns, trigger, broker, brokerSink.url))
	created[externalTrigger] = time.Now()
	createTrigger(t, s, newTrigger(ns, externalTrigger, externalBroker, externalSink.url))
	sub := createSubscription(t, s, newSubscription(ns, subscription, "messaging.knative.dev/v1beta1", "KafkaChannel", channel, channelSink.url, nil))
	s.waitTriggersReady(t, ns, created)
	took := waitReady(t, 60*time.Second, "Subscription "+subscription, subscriptionConditions(s, ns, subscription))
	t.Logf("Subscription %s Ready %s after the Triggers", subscription, took.Round(time.Millisecond))

	channelHost := hostOf(mustURL(t, channelAddress(ns, channel)))
	routes := []struct{ what, host, path string }{
		{"Broker " + broker, "", "/" + ns + "/" + broker},
		{"Broker " + externalBroker, "", "/" + ns + "/" + externalBroker},
		{"KafkaChannel " + channel + " by host", channelHost, "/"},
		{"KafkaChannel " + channel + " by path", "", "/" + ns + "/" + channel},
	}
	t.Logf("the Brokers, the KafkaChannel, the Triggers and the Subscription Ready within %s", time.Since(began).Round(time.Millisecond))
	for i, r := range routes {
		s.mustSend(t, r.host, r.path, event(fmt.Sprintf("x-%d", i), "e2e.doomed", "/e2e/doomed", nil))
	}
	brokerSink.waitFor(t, 60*time.Second, []string{"x-0"})
	externalSink.waitFor(t, 60*time.Second, []string{"x-1"})
	channelSink.waitFor(t, 60*time.Second, []string{"x-2", "x-3"})
	groups := []string{triggerGroup(ns, trigger), triggerGroup(ns, externalTrigger), subscriptionGroup(ns, channel, string(sub.UID))}
	listed, err := listGroups(context.Background(), s.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if !slices.Contains(listed, g) {
			t.Errorf("consumer group %s is not listed while its egress serves; groups: %v", g, listed)
		}
	}

	// Delete the three; their finalizers clean Kafka up before they let go.
	ctx := ctxFor(t, 2*time.Minute)
	deleted := time.Now()
	if err := eventing.Brokers(ns).Delete(ctx, broker, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := eventing.Brokers(ns).Delete(ctx, externalBroker, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Delete(ctx, channel, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{broker, externalBroker} {
		waitGone(t, 60*time.Second, "Broker "+name, func(ctx context.Context) error {
			_, err := eventing.Brokers(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		})
		t.Logf("Broker %s finalized within %s of its deletion", name, time.Since(deleted).Round(time.Millisecond))
	}
	waitGone(t, 60*time.Second, "KafkaChannel "+channel, func(ctx context.Context) error {
		_, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctx, channel, metav1.GetOptions{})
		return err
	})
	t.Logf("KafkaChannel %s finalized within %s of its deletion", channel, time.Since(deleted).Round(time.Millisecond))
	// Its kn-channel Service goes with it through its owner reference.
	s.collectChannelService(ctx, t, ns, channel, kc.UID)

	// Topics: ours gone, the external one kept.
	for _, topic := range []string{brokerTopic(ns, broker), channelTopic(ns, channel)} {
		eventually(t, 30*time.Second, "topic "+topic+" deleted", func() (bool, string) {
			n, ok, err := topicPartitions(ctx, s.kafka, topic)
			return !ok && err == nil, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
		})
	}
	if n, ok, err := topicPartitions(ctx, s.kafka, external); !ok || n != 3 {
		t.Errorf("external topic %s: exists=%t partitions=%d err=%v after its Broker was deleted, want it untouched (3 partitions)", external, ok, n, err)
	}
	// Routes: the ingress no longer knows any of them.
	for _, r := range routes {
		eventually(t, 30*time.Second, "the ingress answering 404 for "+r.what, func() (bool, string) {
			code, err := s.send(ctx, r.host, r.path, event("late", "e2e.doomed", "/e2e/doomed", nil))
			return err == nil && code == http.StatusNotFound, fmt.Sprintf("status %d, %v", code, err)
		})
	}
	// Consumer groups: gone from Kafka, committed offsets included.
	for _, g := range groups {
		eventually(t, 30*time.Second, "consumer group "+g+" deleted", func() (bool, string) {
			return groupGone(ctx, s.admin, g)
		})
	}
	t.Logf("topics, routes and consumer groups checked gone %s after the deletions", time.Since(deleted).Round(time.Millisecond))
	// The Triggers and the Subscription outlive what they pointed at; deleting them now finds
	// nothing left to undo.
	for _, name := range []string{trigger, externalTrigger} {
		if err := eventing.Triggers(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Trigger %s: %v", name, err)
		}
		waitGone(t, 30*time.Second, "Trigger "+name, func(ctx context.Context) error {
			_, err := eventing.Triggers(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		})
	}
}
