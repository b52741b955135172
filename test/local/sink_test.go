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

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// sinkFiles are a KafkaSink owning topic (structured mode) on servers, a Broker, and a Trigger
// whose subscriber is the sink, by ref.
func sinkFiles(ns, topic string, servers []string) string {
	return brokerFiles(ns) + fmt.Sprintf(`---
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata:
  name: archive
  namespace: %[1]s
spec:
  topic: %[2]s
  bootstrapServers: [%[3]s]
  numPartitions: 1
  replicationFactor: 1
  contentMode: structured
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-archive
  namespace: %[1]s
spec:
  broker: default
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: KafkaSink, name: archive}
`, ns, topic, strings.Join(servers, ", "))
}

// TestRunServesAKafkaSinkAgainstRealKafka runs `knkafka run` with a KafkaSink in the folder: the
// sink creates its topic and is Ready at its local address; an event posted to it and one posted
// to a Broker whose Trigger names the sink both land in the topic, in structured mode; removing
// the sink's file deletes its topic.
func TestRunServesAKafkaSinkAgainstRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	ns := fmt.Sprintf("local-sink-%d", time.Now().UnixNano())
	topic := ns + "-archive"
	adm := kafkatest.Admin(t, servers)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })
	dir := t.TempDir()
	file := filepath.Join(dir, "sink.yaml")
	writeFile(t, file, sinkFiles(ns, topic, servers))

	p := start(t, dir, "--bootstrap-servers", strings.Join(servers, ","))
	rs := p.waitFor(t, "every resource Ready", allReady("Broker/default", "Trigger/to-archive", "KafkaSink/archive"))
	sinkURL := "http://" + p.ingress + "/" + ns + "/archive"
	for _, r := range rs {
		if r.Kind == "KafkaSink" && r.Address != sinkURL {
			t.Errorf("KafkaSink address %q, want %q", r.Address, sinkURL)
		}
	}

	send(t, sinkURL, "direct-1", "archived")
	send(t, "http://"+p.ingress+"/"+ns+"/default", "via-broker-1", "archived")
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	for len(got) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != "application/cloudevents+json" {
				t.Errorf("record %d is not in structured mode: headers %v", r.Offset, r.Headers)
			}
			e, err := cekafka.Decode(r)
			if err != nil {
				t.Errorf("record %d: %v", r.Offset, err)
				return
			}
			got = append(got, e.ID())
		})
	}
	slices.Sort(got)
	if want := []string{"direct-1", "via-broker-1"}; !slices.Equal(got, want) {
		t.Fatalf("topic %s holds %v, want %v", topic, got, want)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	admin := kafkatest.Admin(t, servers)
	deadline := time.Now().Add(60 * time.Second)
	for {
		topics, err := admin.ListTopics(ctx, topic)
		if err == nil && !topics.Has(topic) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s still exists 60s after its sink left the folder (err %v)", topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
