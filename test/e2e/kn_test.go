package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	messagingconfig "knative.dev/eventing/pkg/apis/messaging/config"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

// testKnChannelAndSubscription is the KafkaSource acceptance flow's channel half, typed as a user
// types it: with default-ch-webhook making KafkaChannel the default of namespace `default`,
// `kn channel create kc01` makes a generic Channel that Knative's defaulting webhook and Channel
// reconciler back with a KafkaChannel of 5 partitions, `kn channel list` shows its type and
// address, and `kn subscription create sub01 --channel …KafkaChannel:kc01 --sink <url>` subscribes
// a sink that then gets the events written to the channel's address.
func testKnChannelAndSubscription(t *testing.T, s *suite) {
	kn := useKn(t, s)
	k := useKnativeCore(t, s)
	const ns, name, subscription = "default", "kc01", "sub01"
	topic := channelTopic(ns, name)
	s.forgetKafka(t, topic)
	t.Cleanup(func() { s.deleteKnChannel(t, ns, name, subscription) })

	knDefaultKafkaChannel(t, s, kn, k, ns, name)
	ctx := ctxFor(t, 3*time.Minute)

	subscriber := newSink(t, "kn-subscriber")
	kn.run(t, "subscription", "create", subscription, "--namespace", ns,
		"--channel", "messaging.knative.dev:v1beta1:KafkaChannel:"+name, "--sink", subscriber.url.String())
	waitReady(t, 60*time.Second, "Subscription "+ns+"/"+subscription, subscriptionConditions(s, ns, subscription))
	sub, err := s.cluster.Eventing.MessagingV1().Subscriptions(ns).Get(ctx, subscription, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ch := sub.Spec.Channel; ch.Kind != "KafkaChannel" || ch.APIVersion != "messaging.knative.dev/v1beta1" || ch.Name != name {
		t.Errorf("kn's Subscription refers to channel %+v, want the KafkaChannel %s", ch, name)
	}
	knListShows(t, kn, map[string]string{"NAME": subscription, "CHANNEL": "KafkaChannel:" + name, "SUBSCRIBER": subscriber.url.String(), "READY": "True"},
		"subscription", "list", "--namespace", ns)

	// The events reach the subscriber through the channel's address, host-routed like the
	// kn-channel Service it names.
	sent := ids("kn", 3)
	for _, id := range sent {
		s.mustSend(t, strings.TrimPrefix(channelAddress(ns, name), "http://"), "/", event(id, "e2e.kn", "/e2e/kn", nil))
	}
	subscriber.waitFor(t, 60*time.Second, sent)
	waitCaughtUp(t, s.admin, topic, subscriptionGroup(ns, name, string(sub.UID)))
	subscriber.checkExactly(t, sent)
}

// knDefaultKafkaChannel makes KafkaChannel (5 partitions) the default channel of ns with
// default-ch-webhook, serves Knative's defaulting webhook, runs `kn channel create name` and
// waits until the generic Channel is Ready, backed by a KafkaChannel with default-ch-webhook's
// spec and a topic of 5 partitions, and `kn channel list` shows its type and address.
func knDefaultKafkaChannel(t *testing.T, s *suite, kn *knCLI, k *knativeCore, ns, name string) {
	t.Helper()
	topic := channelTopic(ns, name)
	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, systemNamespace, messagingconfig.ChannelDefaultsConfigName,
		map[string]string{messagingconfig.ChannelDefaulterKey: defaultChannelConfig}); err != nil {
		t.Fatal(err)
	}
	serveKnativeDefaulting(t, s, k)

	kn.run(t, "channel", "create", name, "--namespace", ns)
	ctx := ctxFor(t, 2*time.Minute)
	kc := waitBackingKafkaChannel(t, s, ns, name)
	if kc.Spec.NumPartitions != 5 || kc.Spec.ReplicationFactor != 1 {
		t.Errorf("the KafkaChannel backing kn's Channel has spec %+v, want 5 partitions and replication factor 1 (default-ch-webhook's template)", kc.Spec)
	}
	eventually(t, 60*time.Second, "topic "+topic+" with 5 partitions", func() (bool, string) {
		n, ok, err := topicPartitions(ctx, s.kafka, topic)
		return ok && n == 5, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
	})
	waitReady(t, 60*time.Second, "Channel "+ns+"/"+name, channelConditions(s, ns, name))

	knListShows(t, kn, map[string]string{"NAME": name, "TYPE": "KafkaChannel", "URL": channelAddress(ns, name), "READY": "True"},
		"channel", "list", "--namespace", ns)
}

// waitBackingKafkaChannel waits for the KafkaChannel Knative's Channel reconciler creates for the
// generic Channel ns/name, and returns it.
func waitBackingKafkaChannel(t *testing.T, s *suite, ns, name string) (kc *messagingv1beta1.KafkaChannel) {
	t.Helper()
	channels := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns)
	eventually(t, 60*time.Second, "the KafkaChannel backing Channel "+ns+"/"+name, func() (bool, string) {
		got, err := channels.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			ch, chErr := s.cluster.Eventing.MessagingV1().Channels(ns).Get(context.Background(), name, metav1.GetOptions{})
			if chErr != nil {
				return false, fmt.Sprintf("%v; the Channel: %v", err, chErr)
			}
			return false, fmt.Sprintf("%v; the Channel's template: %+v", err, ch.Spec.ChannelTemplate)
		}
		owner := metav1.GetControllerOf(got)
		kc = got
		return owner != nil && owner.Kind == "Channel" && owner.Name == name, fmt.Sprintf("controller %+v", owner)
	})
	return kc
}

// knListShows runs the kn list command args until its table has a row with the values of want,
// column by column, failing t with the last table after 30 s.
func knListShows(t *testing.T, kn *knCLI, want map[string]string, args ...string) {
	t.Helper()
	cmd := "kn " + strings.Join(args, " ")
	eventually(t, 30*time.Second, fmt.Sprintf("%s showing %v", cmd, want), func() (bool, string) {
		out, stderr, err := kn.try(args...)
		if err != nil {
			return false, fmt.Sprintf("%v: %s%s", err, out, stderr)
		}
		rows, err := knTable(out)
		if err != nil {
			return false, err.Error()
		}
		for _, row := range rows {
			if matches(row, want) {
				t.Logf("%s:\n%s", cmd, out)
				return true, ""
			}
		}
		return false, "\n" + out
	})
}

// matches says whether row has every value of want.
func matches(row, want map[string]string) bool {
	for col, v := range want {
		if got, ok := row[col]; !ok || got != v {
			return false
		}
	}
	return true
}

// deleteKnChannel deletes what testKnChannelAndSubscription made: the Subscription, the generic
// Channel (first, so that Knative's reconciler does not make its KafkaChannel again), then the
// KafkaChannel, which nothing garbage-collects here, waiting for our finalizer.
func (s *suite) deleteKnChannel(t *testing.T, ns, name, subscription string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	channels := s.cluster.Eventing.MessagingV1().Channels(ns)
	if err := channels.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Channel %s/%s: %v", ns, name, err)
	}
	for ctx.Err() == nil {
		if _, err := channels.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(poll)
	}
	s.deleteSubscriptionAndChannel(t, ns, subscription, name)
}

// testKnSourceListTypes runs `kn source list-types`: it lists the source kinds installed as CRDs
// labelled duck.knative.dev/source — Knative core's, and our KafkaSource (its CRD is in config/,
// and kubetest installs every CRD there).
func testKnSourceListTypes(t *testing.T, s *suite) {
	kn := useKn(t, s)
	types := knSourceTypes(t, kn)
	for _, kind := range []string{"ApiServerSource", "ContainerSource", "PingSource", "SinkBinding"} {
		if _, ok := types[kind]; !ok {
			t.Errorf("kn source list-types does not list Knative core's %s; it lists %v", kind, types)
		}
	}
	checkKnListsKafkaSource(t, s, types)
}

// kafkaSourceCRD is the KafkaSource CRD's name, as in today's Kafka source.
const kafkaSourceCRD = "kafkasources.sources.knative.dev"

// checkKnListsKafkaSource fails t unless `kn source list-types` (its rows by TYPE, from
// knSourceTypes) lists KafkaSource as users see it with today's Kafka source: its CRD's name and
// the description kn ships for the kind (kn marks only core sources in its S column).
func checkKnListsKafkaSource(t *testing.T, s *suite, types map[string]map[string]string) {
	t.Helper()
	if !slices.Contains(s.cluster.CRDs, kafkaSourceCRD) {
		t.Errorf("the %s CRD is not installed (kubetest installed %v); it is in config/", kafkaSourceCRD, s.cluster.CRDs)
	}
	row, ok := types["KafkaSource"]
	if !ok {
		t.Errorf("kn source list-types does not list KafkaSource; it lists %v", types)
		return
	}
	const description = "Route events from Apache Kafka Server to addressable"
	if row["NAME"] != kafkaSourceCRD || row["DESCRIPTION"] != description {
		t.Errorf("kn source list-types lists KafkaSource as %v, want NAME %s and DESCRIPTION %q", row, kafkaSourceCRD, description)
	}
}

// knSourceTypes runs `kn source list-types` and returns its rows (TYPE, S, NAME, DESCRIPTION)
// by TYPE.
func knSourceTypes(t *testing.T, kn *knCLI) map[string]map[string]string {
	t.Helper()
	out, _ := kn.run(t, "source", "list-types")
	rows, err := knTable(out)
	if err != nil {
		t.Fatalf("kn source list-types: %v", err)
	}
	types := make(map[string]map[string]string, len(rows))
	for _, r := range rows {
		types[r["TYPE"]] = r
	}
	return types
}
