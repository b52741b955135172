package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// Proc is one child process the driver started. Every Proc is registered with the run so that it
// is stopped however the run ends.
type Proc struct {
	Name    string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	LogPath string
	Started time.Time
}

// procs tracks every running child so cleanup can stop them all.
type procs struct {
	mu   sync.Mutex
	live map[*Proc]bool
	dir  string
}

func newProcs(dir string) *procs { return &procs{live: map[*Proc]bool{}, dir: dir} }

// start runs bin with args; its output goes to a log file under the run's directory.
func (ps *procs) start(name, bin string, args ...string) (*Proc, error) {
	return ps.startEnv(name, nil, bin, args...)
}

// startEnv is start with env added to the driver's environment.
func (ps *procs) startEnv(name string, env []string, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(ps.dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, done: make(chan struct{}), LogPath: logPath}
	p.cmd = exec.Command(bin, args...)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// A child outlives a driver killed with SIGKILL only if nothing kills it: ask the kernel to.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.Started = time.Now()
	ps.mu.Lock()
	ps.live[p] = true
	ps.mu.Unlock()
	go func() {
		p.waitErr = p.cmd.Wait()
		_ = logf.Close()
		ps.mu.Lock()
		delete(ps.live, p)
		ps.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stopAll stops every child still running.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	var all []*Proc
	for p := range ps.live {
		all = append(all, p)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to 40s for a graceful exit, then kills.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail returns the last n bytes of the process's log.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// CPUSeconds is user+system CPU time the process used so far.
func (p *Proc) CPUSeconds() (float64, error) { return cpuSeconds(p.Pid()) }

func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing paren are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / clockTicks, nil
}

// Memory is a process's resident set now (VmRSS) and its peak (VmHWM), in MiB.
type Memory struct {
	RSSMiB  float64 `json:"rssMiB"`
	PeakMiB float64 `json:"peakMiB"`
}

// Memory reads /proc/<pid>/status.
func (p *Proc) Memory() (Memory, error) { return memory(p.Pid()) }

func memory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			key string
			dst *float64
		}{{"VmRSS:", &m.RSSMiB}, {"VmHWM:", &m.PeakMiB}} {
			if rest, ok := strings.CutPrefix(line, k.key); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				*k.dst = kb / 1024
			}
		}
	}
	return m, sc.Err()
}

// usage measures a process's CPU between two points.
type usage struct {
	p     *Proc
	cpu0  float64
	wall0 time.Time
}

func startUsage(p *Proc) usage {
	c, _ := p.CPUSeconds()
	return usage{p: p, cpu0: c, wall0: time.Now()}
}

// stop returns CPU seconds and wall seconds since start.
func (u usage) stop() (cpu, wall float64) {
	c, _ := u.p.CPUSeconds()
	return c - u.cpu0, time.Since(u.wall0).Seconds()
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// dataplane is one running knkafka-dataplane with its addresses.
type dataplane struct {
	*Proc
	admin, ingress string
}

// startDataplane runs the data-plane binary with role against contractFile.
func (r *runner) startDataplane(name, role, contractFile string, extra ...string) (*dataplane, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	in, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--role", role, "--contract", contractFile,
		"--admin-addr", admin, "--ingress-addr", in, "--max-in-flight", strconv.Itoa(r.profile.MaxInFlight)}, extra...)
	p, err := r.procs.startEnv(name, r.opts.DataplaneEnv, r.opts.Dataplane, args...)
	if err != nil {
		return nil, err
	}
	return &dataplane{Proc: p, admin: admin, ingress: in}, nil
}

func (d *dataplane) status(ctx context.Context) (contract.Status, error) {
	var st contract.Status
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.admin+contract.StatusPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// counter reads one series of the data plane's /metrics: name with exactly labels (as written in
// the exposition, e.g. `event="detach"`); 0 when the series does not exist yet.
func (d *dataplane) counter(ctx context.Context, name, labels string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseCounter(resp.Body, name, labels)
}

// parseCounter finds the series name{labels} in a Prometheus text exposition.
func parseCounter(r io.Reader, name, labels string) (float64, error) {
	series := name + "{" + labels + "} "
	if labels == "" {
		series = name + " "
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, sc.Err()
}

// waitReady waits until the data plane applied gen and serves the listed ingresses and egresses.
func (d *dataplane) waitReady(ctx context.Context, gen uint64, ingresses, egresses []string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last contract.Status
	var lastErr error
	for {
		if d.Exited() {
			return fmt.Errorf("%s exited while waiting for readiness: %v\n%s", d.Name, d.waitErr, d.LogTail(4000))
		}
		last, lastErr = d.status(ctx)
		if lastErr == nil && last.Generation == gen && allReady(last.Ingresses, ingresses) && allReady(last.Egresses, egresses) {
			return nil
		}
		select {
		case <-ctx.Done():
			ready := 0
			for _, e := range egresses {
				if last.Egresses[e].Ready {
					ready++
				}
			}
			return fmt.Errorf("%s not ready within %s (generation %d, %d/%d egresses ready, last error %v)",
				d.Name, within, last.Generation, ready, len(egresses), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func allReady(m map[string]contract.ServingStatus, uids []string) bool {
	for _, u := range uids {
		if !m[u].Ready {
			return false
		}
	}
	return true
}

// writeContract writes c to path atomically (write, then rename), as a mounted volume would swap it.
func writeContract(path string, c *contract.Contract) error {
	c.SchemaVersion = contract.SchemaVersion
	b, err := contract.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
