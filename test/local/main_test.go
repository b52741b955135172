// Package local tests `knkafka run` as users run it: a process reading a resources folder, against
// the real Kafka broker or its embedded one, followed live as files change.
package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/local/runner"
	"knkafka.dev/test/proctest"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "./cmd/knkafka", &binary) }

// process is one running `knkafka run`.
type process struct {
	cmd            *exec.Cmd
	admin, ingress string
	stdout, stderr *syncBuffer
	done           chan struct{}
	waitErr        error
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string { return proctest.FreeAddr(t) }

// start runs `knkafka run --resources dir` with extra flags; it is stopped when the test ends.
func start(t *testing.T, dir string, flags ...string) *process {
	t.Helper()
	p := &process{admin: freeAddr(t), ingress: freeAddr(t), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"run", "--resources", dir, "--admin-addr", p.admin, "--ingress-addr", p.ingress}, flags...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("knkafka stdout:\n%s", tail(p.stdout.String()))
			t.Logf("knkafka stderr:\n%s", tail(p.stderr.String()))
		}
	})
	return p
}

func tail(s string) string {
	if len(s) > 20000 {
		return s[len(s)-20000:]
	}
	return s
}

// stop ends the process with SIGTERM and waits for its graceful exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("knkafka did not stop within 60s of SIGTERM")
	}
	if p.waitErr != nil {
		t.Errorf("knkafka exited with %v after SIGTERM", p.waitErr)
	}
}

func (p *process) resources(t *testing.T) ([]runner.Resource, error) {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + runner.ResourcesPath)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rs []runner.Resource
	return rs, json.NewDecoder(resp.Body).Decode(&rs)
}

func (p *process) generation() (uint64, error) {
	resp, err := http.Get("http://" + p.admin + contract.StatusPath)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st contract.Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Generation, err
}

// waitFor polls cond (given the /resources list) until it holds, failing the test after 90s.
func (p *process) waitFor(t *testing.T, what string, cond func([]runner.Resource) bool) []runner.Resource {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last []runner.Resource
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("knkafka exited while waiting for %s: %v", what, p.waitErr)
		default:
		}
		last, lastErr = p.resources(t)
		if lastErr == nil && cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waited 90s for %s; /resources: %+v (error %v)", what, last, lastErr)
	return nil
}

// allReady says every listed kind/name is there and Ready, and nothing else is not.
func allReady(want ...string) func([]runner.Resource) bool {
	return func(rs []runner.Resource) bool {
		ready := map[string]bool{}
		for _, r := range rs {
			if r.Ready().Status != runner.StatusTrue {
				return false
			}
			ready[r.Kind+"/"+r.Name] = true
		}
		for _, w := range want {
			if !ready[w] {
				return false
			}
		}
		return true
	}
}

// waitNewGeneration waits until the data plane applied a generation after gen and every listed
// object is Ready again.
func (p *process) waitNewGeneration(t *testing.T, gen uint64, want ...string) {
	t.Helper()
	ready := allReady(want...)
	p.waitFor(t, fmt.Sprintf("a generation after %d with %v Ready", gen, want), func(rs []runner.Resource) bool {
		g, err := p.generation()
		return err == nil && g > gen && ready(rs)
	})
}

// send posts a binary-mode CloudEvent and wants 202.
func send(t *testing.T, url, id, typ string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"id":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/test/local")
	req.Header.Set("Ce-Type", typ)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s (event %s): %d, want 202", url, id, resp.StatusCode)
	}
}

// subscriber records the ids of the events delivered to it.
type subscriber struct {
	url  string
	mu   sync.Mutex
	seen map[string]int
	body map[string]string
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{seen: map[string]int{}, body: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		s.mu.Lock()
		s.seen[r.Header.Get("Ce-Id")]++
		s.body[r.Header.Get("Ce-Id")] = buf.String()
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s
}

func (s *subscriber) got(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id] > 0
}

func (s *subscriber) data(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body[id]
}

// wait waits until id was delivered, failing the test after 60s.
func (s *subscriber) wait(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.got(id) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("event %s did not reach %s within 60s; it got %v", id, s.url, s.seen)
}

// writeFile replaces path's content atomically, as editors do.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
