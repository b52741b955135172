package proctest

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// DataPlane is one running knkafka-dataplane process following a contract file.
type DataPlane struct {
	// Role is "ingress", "dispatcher" or "all"; Admin and Ingress are its listen addresses.
	Role, Admin, Ingress string

	cmd        *exec.Cmd
	done       chan struct{}
	waitErr    error
	logPath    string
	killedHard bool
}

// DataPlaneOpts are the addresses and extra flags of StartDataPlane; empty addresses are picked
// free. Reusing a killed process's addresses restarts it in place, as a Kubernetes pod keeps its
// Service.
type DataPlaneOpts struct {
	Admin, Ingress string
	Args           []string
}

// StartDataPlane runs binary with role against contractFile. It is stopped (SIGTERM, then SIGKILL
// after a minute) when the test ends, and its log is printed if the test failed.
func StartDataPlane(t testing.TB, binary, role, contractFile string, o DataPlaneOpts) *DataPlane {
	t.Helper()
	if o.Admin == "" {
		o.Admin = FreeAddr(t)
	}
	if o.Ingress == "" {
		o.Ingress = FreeAddr(t)
	}
	p := &DataPlane{Role: role, Admin: o.Admin, Ingress: o.Ingress, done: make(chan struct{}),
		logPath: filepath.Join(t.TempDir(), "dataplane.log")}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--role", role, "--contract", contractFile,
		"--admin-addr", p.Admin, "--ingress-addr", p.Ingress}, o.Args...)
	p.cmd = exec.Command(binary, args...)
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
		p.Stop(t)
		if t.Failed() {
			if b, err := os.ReadFile(p.logPath); err == nil && len(b) > 0 {
				if len(b) > 20000 {
					b = b[len(b)-20000:]
				}
				t.Logf("data plane log (%s, pid %d, tail):\n%s", role, p.cmd.Process.Pid, b)
			}
		}
	})
	return p
}

// Stop ends the process with SIGTERM and waits for its graceful exit; a no-op once it exited.
func (p *DataPlane) Stop(t testing.TB) {
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

// Kill ends the process with SIGKILL (no graceful anything) and waits until it is gone.
func (p *DataPlane) Kill() {
	p.killedHard = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has ended.
func (p *DataPlane) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Status reads the process's status endpoint.
func (p *DataPlane) Status() (contract.Status, error) {
	var st contract.Status
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.Admin + contract.StatusPath)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// WaitReady waits (90s at most) until the process applied generation gen and serves every listed
// ingress and egress.
func (p *DataPlane) WaitReady(t testing.TB, gen uint64, ingresses, egresses []string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last contract.Status
	var lastErr error
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("data plane exited while waiting for readiness: %v", p.waitErr)
		}
		last, lastErr = p.Status()
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

// WriteContract writes c to path atomically (a rename), as the data plane's file source expects.
func WriteContract(t testing.TB, path string, c *contract.Contract) {
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

// Pid is the process's id, for reading what /proc says about it.
func (p *DataPlane) Pid() int { return p.cmd.Process.Pid }
