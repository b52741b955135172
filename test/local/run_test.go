package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"knkafka.dev/local/runner"
	"knkafka.dev/test/kafkatest"
)

// brokerFiles is a broker with one partition (so an ordered trigger sees events in send order)
// and the ConfigMap it references.
func brokerFiles(ns string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: kafka-broker-config
  namespace: knative-eventing
data:
  default.topic.partitions: "1"
  default.topic.replication.factor: "3"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: %s
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: kafka-broker-config
    namespace: knative-eventing
`, ns)
}

// orderedTrigger delivers the events of type typ, in order.
func orderedTrigger(ns, typ, uri string) string {
	return fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders
  namespace: %s
  annotations:
    kafka.eventing.knative.dev/delivery.order: ordered
spec:
  broker: default
  filter:
    attributes:
      type: %s
  subscriber:
    uri: %s
`, ns, typ, uri)
}

func channelFiles(ns, uri string) string {
	return fmt.Sprintf(`apiVersion: messaging.knative.dev/v1beta1
kind: KafkaChannel
metadata:
  name: events
  namespace: %s
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: audit
  namespace: %s
spec:
  channel:
    apiVersion: messaging.knative.dev/v1beta1
    kind: KafkaChannel
    name: events
  subscriber:
    uri: %s
`, ns, ns, uri)
}

func TestRunFollowsTheFolderAgainstRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	// A namespace of its own keeps this run's topics and consumer groups apart from earlier ones.
	ns := fmt.Sprintf("local-%d", time.Now().UnixNano())
	orders, audit := newSubscriber(t), newSubscriber(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "broker.yaml"), brokerFiles(ns))
	triggerFile := filepath.Join(dir, "trigger.yaml")
	writeFile(t, triggerFile, orderedTrigger(ns, "order.created", orders.url))
	channelFile := filepath.Join(dir, "channel.yaml")
	writeFile(t, channelFile, channelFiles(ns, audit.url))

	p := start(t, dir, "--bootstrap-servers", strings.Join(servers, ","))
	everything := []string{"Broker/default", "Trigger/orders", "KafkaChannel/events", "Subscription/audit"}
	rs := p.waitFor(t, "every resource Ready", allReady(everything...))
	brokerURL := "http://" + p.ingress + "/" + ns + "/default"
	channelURL := "http://" + p.ingress + "/" + ns + "/events"
	for _, r := range rs {
		if want := map[string]string{"Broker": brokerURL, "KafkaChannel": channelURL}[r.Kind]; r.Address != want {
			t.Errorf("%s %s address %q, want %q", r.Kind, r.Name, r.Address, want)
		}
	}

	t.Run("events reach the trigger through its filter and the subscription", func(t *testing.T) {
		send(t, brokerURL, "skipped-0", "order.cancelled")
		send(t, brokerURL, "order-1", "order.created")
		send(t, channelURL, "channel-1", "anything")
		orders.wait(t, "order-1")
		audit.wait(t, "channel-1")
		if orders.got("skipped-0") {
			t.Error("the trigger's filter let an order.cancelled event through")
		}
	})

	t.Run("editing the trigger's filter changes the routing without a restart", func(t *testing.T) {
		gen, err := p.generation()
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, triggerFile, orderedTrigger(ns, "order.cancelled", orders.url))
		p.waitNewGeneration(t, gen, everything...)
		send(t, brokerURL, "order-2", "order.created")
		send(t, brokerURL, "cancel-2", "order.cancelled")
		// Ordered on one partition: once cancel-2 arrived, order-2 was already filtered out.
		orders.wait(t, "cancel-2")
		if orders.got("order-2") {
			t.Error("after the edit the trigger still delivers order.created")
		}
	})

	t.Run("a bad file is reported and the last good version keeps running", func(t *testing.T) {
		writeFile(t, triggerFile, "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: orders\n  namespace: "+ns+"\nspec:\n  broker: [\n")
		badFile := filepath.Join(dir, "typo.yaml")
		writeFile(t, badFile, "apiVersion: eventing.knative.dev/v1\nkind: Triggr\nmetadata:\n  name: x\n")
		rs := p.waitFor(t, "both bad files reported", func(rs []runner.Resource) bool {
			var stale, file bool
			for _, r := range rs {
				for _, c := range r.Conditions {
					if r.Kind == "Trigger" && c.Type == runner.ConditionLoaded && c.Reason == runner.ReasonFileInvalid && strings.Contains(c.Message, triggerFile) {
						stale = r.Ready().Status == runner.StatusTrue
					}
				}
				if r.Kind == runner.KindFile && r.Name == badFile && r.Ready().Reason == runner.ReasonFileInvalid {
					file = true
				}
			}
			return stale && file
		})
		t.Logf("/resources with bad files: %+v", rs)
		send(t, brokerURL, "cancel-3", "order.cancelled")
		send(t, channelURL, "channel-3", "anything")
		orders.wait(t, "cancel-3")
		audit.wait(t, "channel-3")
		waitOutput(t, p.stderr, triggerFile)
		waitOutput(t, p.stderr, badFile)
		waitOutput(t, p.stdout, "FileInvalid")

		// Fixing the files clears the reports.
		writeFile(t, triggerFile, orderedTrigger(ns, "order.cancelled", orders.url))
		if err := os.Remove(badFile); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, "the reports cleared", func(rs []runner.Resource) bool {
			for _, r := range rs {
				for _, c := range r.Conditions {
					if c.Status != runner.StatusTrue {
						return false
					}
				}
			}
			return len(rs) == len(everything)
		})
	})

	t.Run("removing a channel's file stops it and deletes its topic", func(t *testing.T) {
		topic := "knative-messaging-kafka." + ns + ".events"
		adm := kafkatest.Admin(t, servers)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if topics, err := adm.ListTopics(ctx, topic); err != nil || !topics.Has(topic) {
			t.Fatalf("topic %s is not there before (err %v)", topic, err)
		}
		if err := os.Remove(channelFile); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, "the channel gone", allReady("Broker/default", "Trigger/orders"))
		for {
			topics, err := adm.ListTopics(ctx, topic)
			if err == nil && !topics.Has(topic) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("topic %s still exists after its channel was removed", topic)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	// Leave the shared Kafka as we found it: removing the broker deletes its topic too.
	for _, f := range []string{"broker.yaml", "trigger.yaml"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	p.waitFor(t, "everything removed", func(rs []runner.Resource) bool { return len(rs) == 0 })
	waitOutput(t, p.stdout, "KIND")
}

// waitOutput waits until the process wrote want.
func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the process never wrote %q", want)
}

// waitRow waits until the process printed a table row starting with fields.
func waitRow(t *testing.T, out *syncBuffer, fields ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the process never printed a row %v", fields)
}
