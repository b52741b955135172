package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// incumbentBroker is the namespace/name of the incumbent's Broker: its ingress path is
// /bench/incumbent and its topic knative-broker-bench-incumbent (hack/incumbent.sh config).
const (
	incumbentBroker = "bench/incumbent"
	incumbentTopic  = "knative-broker-bench-incumbent"
	incumbentGroup  = "knative-trigger-bench-incumbent-trigger"
)

// IncumbentResult is the incumbent — Knative's Kafka broker data plane, the Java receiver and
// dispatcher — through scenario 3's measurement in this run, on the same Kafka, loader and
// subscriber as knkafka's pipeline.
type IncumbentResult struct {
	// Name says what was measured; Source is the tag and commit the jars were built from.
	Name   string `json:"name"`
	Source string `json:"source"`
	// ReadySeconds is from launching both JVMs to the first event delivered through them.
	ReadySeconds float64           `json:"readySeconds"`
	EndToEnd     []E2EResult       `json:"endToEnd,omitempty"`
	Pipeline     *PipelineResult   `json:"pipeline,omitempty"`
	Note         string            `json:"note"`
	Config       map[string]string `json:"config,omitempty"`
}

// incumbent runs scenario 3's pipeline against the incumbent, started with hack/incumbent.sh from
// jars built beforehand (hack/incumbent.sh build). It is opt-in (BENCH_SCENARIOS=...,incumbent)
// and fails, rather than skips, when the jars are not built.
func (r *runner) incumbent(ctx context.Context) error {
	script := filepath.Join(r.opts.Repo, "hack", "incumbent.sh")
	home, err := runScript(ctx, script, "home")
	if err != nil {
		return fmt.Errorf("the incumbent's jars are not built (run `bash hack/incumbent.sh build` first): %w", err)
	}
	home = strings.TrimSpace(home)
	if err := r.kafka.createTopic(ctx, incumbentTopic, partitions); err != nil {
		return err
	}
	// What the controller does before a Trigger is Ready: the group starts where the topic does,
	// so nothing accepted before the consumer joins is skipped (auto.offset.reset=latest).
	if err := r.kafka.commitStart(ctx, incumbentGroup, incumbentTopic); err != nil {
		return err
	}
	dir := filepath.Join(r.work, "incumbent")
	if _, err := runScript(ctx, script, "config", dir, strings.Join(r.kafka.servers, ","), r.sink.URL+"/incumbent", incumbentBroker); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	launched := time.Now()
	// `exec` replaces the shell with the JVM, so these are the JVMs' own PIDs.
	in, err := r.procs.start("incumbent-receiver", "bash", script, "exec", "receiver", dir, strconv.Itoa(port))
	if err != nil {
		return err
	}
	disp, err := r.procs.start("incumbent-dispatcher", "bash", script, "exec", "dispatcher", dir)
	if err != nil {
		return err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/" + incumbentBroker
	if err := r.waitIncumbent(ctx, url, in, disp, 120*time.Second); err != nil {
		return err
	}
	res := &IncumbentResult{
		Name:         "Knative Kafka broker data plane (receiver-loom + dispatcher-loom), local JVMs",
		Source:       readTrim(filepath.Join(home, "source")),
		ReadySeconds: round(time.Since(launched).Seconds(), 2),
		Note: "its own ConfigMap's client properties and its Deployments' environment and JVM flags (the dispatcher's heap sized from its 1000Mi limit); " +
			"metrics and tracing off (no config-observability), no Kubernetes API; one Trigger without a filter, unordered, no retries configured",
		Config: map[string]string{"javaHome": readTrim(filepath.Join(home, "java-home"))},
	}
	r.res.Incumbent = res
	r.logf("  incumbent %s ready %.1f s after launch", res.Source, res.ReadySeconds)
	res.EndToEnd, res.Pipeline = r.measurePipeline(ctx, pipelineTarget{label: "incumbent", phasePrefix: "inc", url: url, in: in, disp: disp})
	return ctx.Err()
}

// waitIncumbent posts probe events until one arrives at the subscriber: the receiver serves the
// Broker's path and the dispatcher's consumer has joined.
func (r *runner) waitIncumbent(ctx context.Context, url string, in, disp *Proc, within time.Duration) error {
	const probes = 1000
	r.sink.Reset("incprobe", probes, 0)
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	lastCode := 0
	for n := 0; n < probes; n++ {
		for _, p := range []*Proc{in, disp} {
			if p.Exited() {
				return fmt.Errorf("%s exited while starting: %v\n%s", p.Name, p.waitErr, p.LogTail(4000))
			}
		}
		if r.sink.Stats().Unique > 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte("probe")))
		if err != nil {
			return err
		}
		req.Header = httpHeader("incprobe", n, eventType, false)
		if resp, err := client.Do(req); err == nil {
			lastCode = resp.StatusCode
			_ = resp.Body.Close()
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return fmt.Errorf("no probe event came through the incumbent within %s (last receiver answer %d)\nreceiver:\n%s\ndispatcher:\n%s",
		within, lastCode, in.LogTail(2000), disp.LogTail(2000))
}

// runScript runs a hack/ script and returns its standard output; its standard error goes into
// the error when it fails.
func runScript(ctx context.Context, script string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", filepath.Base(script), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}
