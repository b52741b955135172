// Package dataplane tests the knkafka-dataplane binary as users run it: a process following a
// contract file against the real Kafka broker, killed and restarted, shared by replicas.
package dataplane

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/proctest"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "./data-plane/cmd/knkafka-dataplane", &binary) }

// process is one running knkafka-dataplane.
type process struct {
	cmd        *exec.Cmd
	admin      string
	ingress    string
	done       chan struct{}
	waitErr    error
	logPath    string
	killedHard bool
}

func freeAddr(t *testing.T) string { return proctest.FreeAddr(t) }

// start runs the binary with role against the contract file; it is stopped when the test ends.
func start(t *testing.T, role, contractFile string) *process {
	t.Helper()
	p := &process{admin: freeAddr(t), ingress: freeAddr(t), done: make(chan struct{}),
		logPath: filepath.Join(t.TempDir(), "dataplane.log")}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary, "--role", role, "--contract", contractFile,
		"--admin-addr", p.admin, "--ingress-addr", p.ingress)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			if b, err := os.ReadFile(p.logPath); err == nil && len(b) > 0 {
				if len(b) > 20000 {
					b = b[len(b)-20000:]
				}
				t.Logf("data plane log (%s, tail):\n%s", role, b)
			}
		}
	})
	return p
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
		t.Errorf("data plane did not stop within 60s of SIGTERM")
	}
	if p.waitErr != nil && !p.killedHard {
		t.Errorf("data plane exited with %v after SIGTERM", p.waitErr)
	}
}

// kill ends the process with SIGKILL: no graceful anything.
func (p *process) kill() {
	p.killedHard = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// status reads the process's status endpoint.
func (p *process) status() (contract.Status, error) {
	var st contract.Status
	resp, err := http.Get("http://" + p.admin + contract.StatusPath)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// waitReady waits until the process applied generation gen and serves every listed ingress and egress.
func (p *process) waitReady(t *testing.T, gen uint64, ingresses, egresses []string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last contract.Status
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("data plane exited while waiting for readiness: %v", p.waitErr)
		default:
		}
		last, lastErr = p.status()
		if lastErr == nil && last.Generation == gen && allReady(last.Ingresses, ingresses) && allReady(last.Egresses, egresses) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not ready within 90s: status %+v, error %v", last, lastErr)
}

func allReady(m map[string]contract.ServingStatus, uids []string) bool {
	for _, u := range uids {
		if !m[u].Ready {
			return false
		}
	}
	return true
}

// writeContract writes c to path atomically.
func writeContract(t *testing.T, path string, c *contract.Contract) {
	t.Helper()
	c.SchemaVersion = contract.SchemaVersion
	b, err := contract.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// subscriber counts deliveries by CloudEvent id.
type subscriber struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	addr  string
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Ce-Id")
		s.mu.Lock()
		s.seen[id]++
		s.total++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.addr = "http://" + ln.Addr().String()
	return s
}

func (s *subscriber) counts() (unique, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen), s.total
}

// waitUnique waits until n distinct ids arrived; it reports an error and returns false when the
// deadline passes first.
func (s *subscriber) waitUnique(t *testing.T, n int, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if u, _ := s.counts(); u >= n {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	u, total := s.counts()
	t.Errorf("subscriber saw %d distinct events (%d deliveries) within %s, want %d; missing: %v", u, total, within, n, s.missing(n))
	return false
}

// missing lists up to 20 of the ids evt-0 .. evt-(n-1) never delivered.
func (s *subscriber) missing(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i := 0; i < n && len(out) < 20; i++ {
		if s.seen[eventID(i)] == 0 {
			out = append(out, eventID(i))
		}
	}
	return out
}

func eventID(i int) string { return "evt-" + strconv.Itoa(i) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
