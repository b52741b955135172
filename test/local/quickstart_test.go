package local

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		writeFile(t, filepath.Join(dir, e.Name()), strings.ReplaceAll(string(b), "http://127.0.0.1:8081", display.url))
	}

	p := start(t, dir)
	p.waitFor(t, "the quickstart Ready", allReady("Broker/default", "Trigger/display", "KafkaChannel/events", "Subscription/display"))
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
}
