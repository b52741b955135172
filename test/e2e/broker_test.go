package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
)

// testBrokerFlow is the Broker as users start with it: `default` in `default`, kafka-broker-config
// asking for 10 partitions, Triggers filtering on source and on type (ordered), a subscriber
// whose reply comes back through the broker, and a failing subscriber with a dead-letter sink.
func testBrokerFlow(t *testing.T, s *suite) {
	const ns, name = "default", "default"
	topic := brokerTopic(ns, name)
	triggers := []string{"by-source", "ordered-by-type", "replier", "replies", "failing"}
	var groups []string
	for _, tr := range triggers {
		groups = append(groups, triggerGroup(ns, tr))
	}
	s.forgetKafka(t, topic, groups...)
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, name, triggers) })

	// The Broker: its topic, then Ready with its address.
	createBroker(t, s, newBroker(ns, name))
	eventually(t, 60*time.Second, "topic "+topic+" with 10 partitions", func() (bool, string) {
		n, ok, err := topicPartitions(context.Background(), s.kafka, topic)
		return ok && n == 10, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
	})
	if v, ok, err := topicConfig(context.Background(), s.admin, topic, "retention.ms"); v != "3600000" {
		t.Errorf("topic %s retention.ms = %q (set %t, err %v), want 3600000 from default.topic.config.retention.ms", topic, v, ok, err)
	}
	took := waitReady(t, 60*time.Second, "Broker "+ns+"/"+name, brokerConditions(s, ns, name))
	t.Logf("Broker %s/%s Ready %s after its topic existed", ns, name, took.Round(time.Millisecond))
	b, err := s.cluster.Eventing.EventingV1().Brokers(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Status.Address.URL.String(), brokerAddress(ns, name); got != want {
		t.Errorf("Broker address = %s, want %s", got, want)
	}

	// The subscribers, each reached by uri.
	bySource := newSink(t, "by-source")
	ordered := newSink(t, "ordered-by-type", holding(20*time.Millisecond))
	replier := newSink(t, "replier", replying("e2e.reply"))
	replies := newSink(t, "replies")
	failingSink := newSink(t, "failing", failing)
	deadLetters := newSink(t, "dead-letter-sink")
	sinks := map[string]*sink{"by-source": bySource, "ordered-by-type": ordered, "replier": replier, "replies": replies, "failing": failingSink}

	created := map[string]time.Time{}
	for _, tr := range []*eventingv1.Trigger{
		newTrigger(ns, "by-source", name, bySource.url, withFilter(map[string]string{"source": "/e2e/source-a"})),
		newTrigger(ns, "ordered-by-type", name, ordered.url, withFilter(map[string]string{"type": "e2e.ordered"}), withOrdered),
		newTrigger(ns, "replier", name, replier.url, withFilter(map[string]string{"type": "e2e.request"})),
		newTrigger(ns, "replies", name, replies.url, withFilter(map[string]string{"type": "e2e.reply"})),
		newTrigger(ns, "failing", name, failingSink.url, withFilter(map[string]string{"type": "e2e.fail"}), withDeadLetterSink(deadLetters.url)),
	} {
		created[tr.Name] = time.Now()
		createTrigger(t, s, tr)
	}
	ready := s.waitTriggersReady(t, ns, created)

	// Events sent right after Ready must all arrive: Ready means the consumer groups joined.
	var batch []cloudevents.Event
	for i := range 20 {
		if i < 5 {
			batch = append(batch, event(fmt.Sprintf("a-%d", i), "e2e.a", "/e2e/source-a", nil))
			batch = append(batch, event(fmt.Sprintf("b-%d", i), "e2e.b", "/e2e/source-b", nil))
		}
		batch = append(batch, event(fmt.Sprintf("o-%d", i), "e2e.ordered", "/e2e/source-o", map[string]string{"partitionkey": "orders-1"}))
		if i < 3 {
			batch = append(batch, event(fmt.Sprintf("r-%d", i), "e2e.request", "/e2e/source-r", nil))
		}
		if i < 2 {
			batch = append(batch, event(fmt.Sprintf("f-%d", i), "e2e.fail", "/e2e/source-f", nil))
		}
	}
	sent := time.Now()
	s.mustSend(t, "", "/"+ns+"/"+name, batch...)

	bySource.waitFor(t, 60*time.Second, ids("a", 5))
	ordered.waitFor(t, 60*time.Second, ids("o", 20))
	replier.waitFor(t, 60*time.Second, ids("r", 3))
	replies.waitFor(t, 60*time.Second, ids("reply-r", 3))
	deadLetters.waitFor(t, 60*time.Second, ids("f", 2))
	if waitCaughtUp(t, s.admin, topic, groups...) {
		t.Logf("all events delivered and committed %s after sending", time.Since(sent).Round(time.Millisecond))
	}

	for _, name := range triggers {
		first, ok := sinks[name].first()
		if !ok {
			continue // reported below
		}
		t.Logf("Trigger %s: created → Ready %s, → first delivery %s (Ready → first delivery %s; events sent %s after Ready)",
			name, ready[name].Sub(created[name]).Round(time.Millisecond), first.Sub(created[name]).Round(time.Millisecond),
			first.Sub(ready[name]).Round(time.Millisecond), sent.Sub(ready[name]).Round(time.Millisecond))
	}

	// Each subscriber got exactly its events; the ordered one in order, one at a time.
	bySource.checkExactly(t, ids("a", 5))
	ordered.checkExactly(t, ids("o", 20))
	if got := ordered.ids(); !slices.Equal(got, ids("o", 20)) {
		t.Errorf("ordered trigger received %v, want o-0 … o-19 in order", firstN(got, 40))
	}
	if n := ordered.maxInFlight.Load(); n != 1 {
		t.Errorf("ordered trigger had up to %d deliveries in flight, want 1", n)
	}
	checkEach(t, ordered, "arrived with partitionkey orders-1", func(d delivered) string {
		return fmt.Sprint(d.event.Extensions()["partitionkey"])
	}, "orders-1")
	replier.checkExactly(t, ids("r", 3))
	replies.checkExactly(t, ids("reply-r", 3))
	checkEach(t, replies, "is a reply", func(d delivered) string {
		return d.event.Type() + " from " + d.event.Source()
	}, "e2e.reply from /e2e/replier")
	// retry: 1 — each failing event is tried twice, then dead-lettered with the error extensions.
	failingSink.checkAttempts(t, map[string]int{"f-0": 2, "f-1": 2})
	deadLetters.checkExactly(t, ids("f", 2))
	checkEach(t, deadLetters, "the error extensions: the subscriber, its status and base64 of its body", errorExtensions,
		fmt.Sprintf("knativeerrordest=%s knativeerrorcode=500 knativeerrordata=%s", failingSink.url, base64.StdEncoding.EncodeToString([]byte("boom"))))
}

// errorExtensions shows the knativeerror* extensions of a dead-lettered event.
func errorExtensions(d delivered) string {
	ext := d.event.Extensions()
	return fmt.Sprintf("knativeerrordest=%v knativeerrorcode=%v knativeerrordata=%v",
		ext["knativeerrordest"], ext["knativeerrorcode"], ext["knativeerrordata"])
}

// checkEach fails t, once, when show(d) differs from want for any event the sink received.
func checkEach(t *testing.T, s *sink, what string, show func(delivered) string, want string) {
	t.Helper()
	var wrong []string
	for _, d := range s.events() {
		if got := show(d); got != want {
			wrong = append(wrong, fmt.Sprintf("%s: %s", d.event.ID(), got))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("sink %s: want every event to have %q (%s); %d of %d do not: %v",
			s.name, want, what, len(wrong), len(s.events()), firstN(wrong, 5))
	}
}

// checkAttempts fails t unless the sink received each id exactly as many times as want says, and
// nothing else.
func (s *sink) checkAttempts(t *testing.T, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, id := range s.ids() {
		got[id]++
	}
	if !maps.Equal(got, want) {
		t.Errorf("sink %s received attempts %v, want %v", s.name, firstN(strings.Fields(fmt.Sprint(got)), 20), want)
	}
}

// waitTriggersReady waits until every Trigger in created (name → creation time) is Ready and
// returns when each was first seen Ready.
func (s *suite) waitTriggersReady(t *testing.T, ns string, created map[string]time.Time) map[string]time.Time {
	t.Helper()
	ready := map[string]time.Time{}
	eventually(t, 90*time.Second, fmt.Sprintf("%d Triggers Ready", len(created)), func() (bool, string) {
		state := ""
		for name := range created {
			if _, ok := ready[name]; ok {
				continue
			}
			conds, err := triggerConditions(s, ns, name)(context.Background())
			if c := findCondition(conds, apis.ConditionReady); err == nil && c != nil && c.IsTrue() {
				ready[name] = time.Now()
				continue
			}
			state += fmt.Sprintf("%s: %v %s; ", name, err, describeConditions(conds))
		}
		return len(ready) == len(created), state
	})
	for name, at := range ready {
		t.Logf("Trigger %s/%s Ready %s after it was created", ns, name, at.Sub(created[name]).Round(time.Millisecond))
	}
	return ready
}

// forgetKafka deletes what an earlier run against the same Kafka may have left under these names:
// a fresh apiserver has no objects, but Kafka keeps topics and committed offsets.
func (s *suite) forgetKafka(t *testing.T, topic string, groups ...string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	if _, ok, _ := topicPartitions(ctx, s.kafka, topic); ok {
		t.Logf("deleting topic %s left by an earlier run", topic)
		if _, err := s.admin.DeleteTopics(ctx, topic); err != nil {
			t.Fatalf("deleting topic %s: %v", topic, err)
		}
		eventually(t, 30*time.Second, "topic "+topic+" deleted", func() (bool, string) {
			_, ok, err := topicPartitions(ctx, s.kafka, topic)
			return !ok && err == nil, fmt.Sprintf("exists=%t err=%v", ok, err)
		})
	}
	if _, err := s.admin.DeleteGroups(ctx, groups...); err != nil {
		t.Logf("deleting groups %v left by an earlier run: %v", groups, err)
	}
}

// deleteBrokerAndTriggers deletes the Triggers, then the Broker, and waits until our controller's
// finalizers ran, so the next run finds no topic or consumer groups of ours.
func (s *suite) deleteBrokerAndTriggers(t *testing.T, ns, broker string, triggers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := s.cluster.Eventing.EventingV1()
	for _, name := range triggers {
		if err := api.Triggers(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Trigger %s: %v", name, err)
		}
	}
	if err := api.Brokers(ns).Delete(ctx, broker, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Broker %s: %v", broker, err)
	}
	for ctx.Err() == nil {
		_, err := api.Brokers(ns).Get(ctx, broker, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("Broker %s/%s was not deleted within 60 s of the end of the test", ns, broker)
}
