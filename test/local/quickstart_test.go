package local

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/test/kafkatest"
)

// TestQuickstartWithEmbeddedKafka runs examples/quickstart/ the way `make run` does — no
// bootstrap servers anywhere, so knkafka starts its embedded Kafka — with the display's URI
// pointed at a test subscriber.
func TestQuickstartWithEmbeddedKafka(t *testing.T) {
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	display := newSubscriber(t)
	// The quickstart's KafkaSource names the embedded Kafka's fixed port; here it gets a free one.
	kafkaAddr := freeAddr(t)
	kafkaPort := kafkaAddr[strings.LastIndex(kafkaAddr, ":")+1:]
	src := filepath.Join(root, "examples", "quickstart")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "bootstrap.servers:") {
			t.Fatalf("%s names bootstrap servers; the quickstart must use the embedded Kafka", e.Name())
		}
		body := strings.ReplaceAll(string(b), "http://127.0.0.1:8081", display.url)
		body = strings.ReplaceAll(body, "127.0.0.1:19092", kafkaAddr)
		writeFile(t, filepath.Join(dir, e.Name()), body)
	}

	p := start(t, dir, "--embedded-kafka-port", kafkaPort)
	p.waitFor(t, "the quickstart Ready", allReady("Broker/default", "Trigger/display", "KafkaChannel/events", "Subscription/display", "KafkaSource/orders"))
	waitOutput(t, p.stderr, "EMBEDDED")

	// The two requests run.sh prints, then the channel's.
	send(t, "http://"+p.ingress+"/default/default", "binary-1", "greeting")
	display.wait(t, "binary-1")
	resp, err := http.Post("http://"+p.ingress+"/default/default", "application/cloudevents+json", strings.NewReader(
		`{"specversion":"1.0","id":"structured-1","source":"/quickstart","type":"greeting","datacontenttype":"application/json","data":{"hello":"structured"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("structured event: %d, want 202", resp.StatusCode)
	}
	display.wait(t, "structured-1")
	if got := display.data("structured-1"); got != `{"hello":"structured"}` {
		t.Errorf("structured event delivered with data %q", got)
	}
	// The channel routes by path and by its Host header.
	send(t, "http://"+p.ingress+"/default/events", "channel-1", "greeting")
	display.wait(t, "channel-1")
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.ingress+"/", strings.NewReader("{}"))
	req.Host = "events-kn-channel.default.svc.cluster.local"
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "channel-host-1", "Ce-Source": "/q", "Ce-Type": "greeting", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("event by Host header: %d, want 202", resp.StatusCode)
	}
	display.wait(t, "channel-host-1")
	waitRow(t, p.stdout, "Subscription", "default", "display", "True")

	// A record another application writes to the embedded Kafka reaches the display through the
	// KafkaSource and the Broker, as the README tells a newcomer to try.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(`{"msg": "hi from kafka"}`)}).FirstErr(); err != nil {
		t.Fatalf("writing to the embedded Kafka: %v", err)
	}
	display.wait(t, "partition:0/offset:0")
	if got := display.data("partition:0/offset:0"); got != `{"msg": "hi from kafka"}` {
		t.Errorf("the record reached the display with data %q", got)
	}
}
