package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinaries builds the controller and the data plane with -race into dir, in one go command.
func buildBinaries(root, dir string) error {
	cmd := exec.Command("go", "build", "-race", "-o", dir+string(filepath.Separator),
		"./control-plane/cmd/controller", "./data-plane/cmd/knkafka-dataplane")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -race the controller and the data plane: %w\n%s", err, out.String())
	}
	return nil
}

// process is a binary the suite runs for its scenarios. The suite stops it; should the test binary
// die first (a panic, -test.timeout), the kernel sends it SIGTERM (Pdeathsig), so it never
// outlives the test binary.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error

	mu           sync.Mutex
	raceReported bool
}

// startProcess starts binary with args and env (added to the test's environment), its output
// going to the file name.log in dir.
func startProcess(name, dir, binary string, env []string, args ...string) (*process, error) {
	p := &process{name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := startOnLockedThread(p.cmd); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// startOnLockedThread starts cmd from an OS thread that never exits: Pdeathsig fires when the
// thread that forked the child exits, and Go may retire the threads of ordinary goroutines.
func startOnLockedThread(cmd *exec.Cmd) error {
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		started <- cmd.Start()
		select {} // keep the thread, and so the child's parent-death signal, for the binary's life
	}()
	return <-started
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits for the process to exit; it is an error when it does not exit 0
// within timeout (then it is killed), or exited before.
func (p *process) stop(timeout time.Duration) error {
	if ok, err := p.exited(); ok {
		return fmt.Errorf("%s had already exited: %v", p.name, err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM\n%s", p.name, timeout, p.tail(4000))
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM (66 means the race detector found a data race)\n%s", p.name, p.waitErr, p.tail(8000))
	}
	return nil
}

// tail returns the last n bytes of the process's log.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// check fails t when the process has exited or its log holds a data race report not reported yet
// (a -race binary reports races as they happen and only fails at exit, which we never see).
func (p *process) check(t *testing.T) {
	t.Helper()
	if ok, err := p.exited(); ok {
		t.Errorf("%s exited during the tests: %v", p.name, err)
	}
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Errorf("reading the %s log: %v", p.name, err)
		return
	}
	i := bytes.Index(b, []byte("WARNING: DATA RACE"))
	if i < 0 {
		return
	}
	p.mu.Lock()
	first := !p.raceReported
	p.raceReported = true
	p.mu.Unlock()
	if first {
		end := min(len(b), i+6000)
		t.Errorf("%s reported a data race:\n%s", p.name, b[i:end])
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// freePort is freeAddr's port.
func freePort() (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(addr)
	return port, err
}

// waitHTTP waits until url answers 200.
func waitHTTP(url string, within time.Duration, p *process) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		if ok, err := p.exited(); ok {
			return fmt.Errorf("%s exited: %v\n%s", p.name, err, p.tail(4000))
		}
		resp, err := httpClient.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 within %s: %v\n%s", url, within, last, p.tail(4000))
}
