package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

// testDeliveryOrder checks the delivery.order choices end to end, through Knative core's
// Subscription reconciler, our controller and our dispatcher:
//   - a KafkaChannel whose annotation makes its Subscriptions unordered by default; a Subscription
//     that says "Unordered" (any case) and one that says nothing both receive the channel's later
//     events while the first one is still held by the subscriber, on a one-partition topic;
//   - a Subscription of the same channel that says "ORDERED" gets its events in order, one at a time;
//   - a Trigger that says "Key-Ordered" (our extension), on a broker whose topic has one
//     partition, gets several keys' events at once but each key's in order, one at a time.
func testDeliveryOrder(t *testing.T, s *suite) {
	useKnativeCore(t, s)
	ns := namespace(t, s, "e2e-order")
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptionOrders(t, s, ns) })
	t.Run("KeyOrderedTrigger", func(t *testing.T) { testKeyOrderedTrigger(t, s, ns) })
}

func testSubscriptionOrders(t *testing.T, s *suite, ns string) {
	const channel = "unordered-by-default"
	s.forgetKafka(t, channelTopic(ns, channel))
	subscriptions := []string{"says-unordered", "inherits", "says-ordered"}
	t.Cleanup(func() {
		for _, sub := range subscriptions[1:] {
			s.deleteSubscription(t, ns, sub)
		}
		s.deleteSubscriptionAndChannel(t, ns, subscriptions[0], channel)
	})

	createKafkaChannel(t, s, newKafkaChannel(ns, channel, func(kc *messagingv1beta1.KafkaChannel) {
		kc.Annotations = map[string]string{deliveryOrderAnnotation: "unordered"}
	}))
	waitReady(t, 60*time.Second, "KafkaChannel "+ns+"/"+channel, kafkaChannelConditions(s, ns, channel))

	want := ids("u", 10)
	saysUnordered := newSink(t, "says-unordered", holdingFirstUntilTheRest(want))
	inherits := newSink(t, "inherits", holdingFirstUntilTheRest(want))
	saysOrdered := newSink(t, "says-ordered", holding(20*time.Millisecond))
	sinks := []*sink{saysUnordered, inherits, saysOrdered}
	orders := []string{"Unordered", "", "ORDERED"}
	var groups []string
	for i, name := range subscriptions {
		sub := newSubscription(ns, name, "messaging.knative.dev/v1beta1", "KafkaChannel", channel, sinks[i].url, nil)
		if orders[i] != "" {
			sub.Annotations = map[string]string{deliveryOrderAnnotation: orders[i]}
		}
		created := createSubscription(t, s, sub)
		groups = append(groups, subscriptionGroup(ns, channel, string(created.UID)))
	}
	for _, name := range subscriptions {
		waitReady(t, 60*time.Second, "Subscription "+ns+"/"+name, subscriptionConditions(s, ns, name))
	}

	var batch []cloudevents.Event
	for _, id := range want {
		batch = append(batch, event(id, "e2e.order", "/e2e/order", nil))
	}
	s.mustSend(t, hostOf(mustURL(t, channelAddress(ns, channel))), "/", batch...)
	for _, sk := range sinks {
		sk.waitFor(t, 60*time.Second, want)
	}
	waitCaughtUp(t, s.admin, channelTopic(ns, channel), groups...)

	for _, sk := range sinks[:2] {
		sk.checkExactly(t, want)
		released := sk.firstReleased.Load()
		if released == nil || !*released {
			t.Errorf("%s: u-1 … u-9 did not arrive while u-0 was held (within %s): the subscription was not delivered unordered; received %v",
				sk.name, holdFirstFor, firstN(sk.ids(), 40))
		}
		if n := sk.maxInFlight.Load(); n < 2 {
			t.Errorf("%s had up to %d deliveries in flight, want several (unordered)", sk.name, n)
		}
	}
	saysOrdered.checkExactly(t, want)
	if got := saysOrdered.ids(); !slices.Equal(got, want) {
		t.Errorf("says-ordered received %v, want u-0 … u-9 in order", firstN(got, 40))
	}
	if n := saysOrdered.maxInFlight.Load(); n != 1 {
		t.Errorf("says-ordered had up to %d deliveries in flight, want 1", n)
	}
}

func testKeyOrderedTrigger(t *testing.T, s *suite, ns string) {
	const broker, trigger = "one-partition", "key-ordered"
	topic := "knkafka-e2e-order-" + ns
	s.userTopic(t, topic, 1, triggerGroup(ns, trigger))
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, broker, []string{trigger}) })
	createBroker(t, s, newBroker(ns, broker, withExternalTopic(topic)))
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+broker, brokerConditions(s, ns, broker))

	subscriber := newSink(t, "key-ordered", holding(50*time.Millisecond))
	createTrigger(t, s, newTrigger(ns, trigger, broker, subscriber.url, func(tr *eventingv1.Trigger) {
		tr.Annotations = map[string]string{deliveryOrderAnnotation: "Key-Ordered"}
	}))
	waitReady(t, 60*time.Second, "Trigger "+ns+"/"+trigger, triggerConditions(s, ns, trigger))

	// Four keys, five events each, interleaved, into the one partition.
	keys := []string{"k0", "k1", "k2", "k3"}
	var batch []cloudevents.Event
	var all []string
	for i := range 5 {
		for _, k := range keys {
			id := fmt.Sprintf("%s-%d", k, i)
			all = append(all, id)
			batch = append(batch, event(id, "e2e.keyed", "/e2e/keyed", map[string]string{"partitionkey": k}))
		}
	}
	s.mustSend(t, "", "/"+ns+"/"+broker, batch...)
	subscriber.waitFor(t, 60*time.Second, all)
	waitCaughtUp(t, s.admin, topic, triggerGroup(ns, trigger))

	subscriber.checkExactly(t, all)
	got := subscriber.ids()
	for _, k := range keys {
		var ofKey []string
		for _, id := range got {
			if id[:len(k)+1] == k+"-" {
				ofKey = append(ofKey, id)
			}
		}
		if !slices.Equal(ofKey, ids(k, 5)) {
			t.Errorf("key %s arrived as %v, want %v (in order within a key)", k, ofKey, ids(k, 5))
		}
	}
	subscriber.mu.Lock()
	perKey := subscriber.maxKeyInFlight
	subscriber.mu.Unlock()
	if perKey != 1 {
		t.Errorf("up to %d deliveries of one key were in flight, want 1", perKey)
	}
	// One partition: only key-ordered delivery (not ordered) can have several in flight.
	if n := subscriber.maxInFlight.Load(); n < 2 {
		t.Errorf("up to %d deliveries were in flight, want several (keys in parallel)", n)
	}
	t.Logf("key-ordered: up to %d deliveries in flight, %d per key", subscriber.maxInFlight.Load(), perKey)
}

// holdFirstFor bounds how long holdingFirstUntilTheRest holds the first event.
const holdFirstFor = 30 * time.Second

// holdingFirstUntilTheRest holds the delivery of want[0] until every other id of want arrived, or
// for holdFirstFor; firstReleased then says which. Only unordered delivery can release it early:
// in order, the rest waits behind it.
func holdingFirstUntilTheRest(want []string) func(*sink) {
	return func(sk *sink) {
		sk.respond = func(w http.ResponseWriter, e *cloudevents.Event) {
			if e.ID() == want[0] && sk.firstReleased.Load() == nil {
				deadline := time.Now().Add(holdFirstFor)
				arrived := false
				for !arrived && time.Now().Before(deadline) {
					got := sk.ids()
					arrived = true
					for _, id := range want[1:] {
						arrived = arrived && slices.Contains(got, id)
					}
					if !arrived {
						time.Sleep(poll)
					}
				}
				sk.firstReleased.Store(&arrived)
			}
			w.WriteHeader(http.StatusAccepted)
		}
	}
}

// deleteSubscription deletes a Subscription and waits until it is gone.
func (s *suite) deleteSubscription(t *testing.T, ns, name string) {
	subs := s.cluster.Eventing.MessagingV1().Subscriptions(ns)
	ctx := ctxFor(t, 60*time.Second)
	if err := subs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Logf("deleting Subscription %s/%s: %v", ns, name, err)
		return
	}
	for ctx.Err() == nil {
		if _, err := subs.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("Subscription %s/%s not deleted within 60 s", ns, name)
}
