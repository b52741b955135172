package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Options configure Run.
type Options struct {
	// Profile is "short" or "full".
	Profile string
	// Repo is the knkafka checkout (for hack/kafka.sh and git).
	Repo string
	// Dataplane is the knkafka-dataplane binary.
	Dataplane string
	// Out is the results directory.
	Out string
	// Bootstrap, when set, is a Kafka to use instead of starting a private one.
	Bootstrap string
	// MicroFile holds `go test -bench` output to include.
	MicroFile string
	// Scenarios selects scenarios by name (empty: all).
	Scenarios []string
	// FanOut, when set, replaces the profile's fan-out trigger counts.
	FanOut []int
	// PprofDir, when set, is where scenario 3 writes CPU profiles of both roles at each fixed rate
	// (the processes run with --pprof; profiling costs a little CPU of its own).
	PprofDir string
	// DataplaneEnv is added to the environment of the data-plane processes only (GOMAXPROCS=1,
	// GOGC=200, KNKAFKA_FETCH_PACE=1ms, ...), not to the driver's load generator and subscriber.
	DataplaneEnv []string
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// scenario is one named part of a run.
type scenario struct {
	name string
	run  func(ctx context.Context) error
	// optIn scenarios run only when named in Options.Scenarios.
	optIn bool
}

// runner carries a run's shared state.
type runner struct {
	opts    Options
	profile Profile
	self    string
	work    string
	procs   *procs
	kafka   *kafka
	sink    *Sink
	res     *Results
	plots   plotData
}

func (r *runner) logf(format string, args ...any) { r.opts.Logf(format, args...) }

// Run measures every selected scenario and renders the results; it returns them even when
// some scenarios failed (their errors are in Results.Errors). Every process it starts is stopped
// before it returns, also when ctx is cancelled.
func Run(ctx context.Context, opts Options) (*Results, *Rendered, error) {
	r, err := run(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	rendered, err := r.Render()
	if err != nil {
		r.res.Errors = append(r.res.Errors, "plots: "+err.Error())
		rendered.Markdown = Markdown(r.res)
	}
	return r.res, rendered, nil
}

func run(ctx context.Context, opts Options) (*runner, error) {
	profile, err := ProfileByName(opts.Profile)
	if err != nil {
		return nil, err
	}
	if len(opts.FanOut) > 0 {
		profile.FanOut = opts.FanOut
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "knkafka-bench-")
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, profile: profile, self: self, work: work, procs: newProcs(work),
		res: &Results{Profile: profile, StartedAt: time.Now().UTC(), JavaPeer: javaFigures()}}
	all := []scenario{
		{"ingress", r.ingress, false},
		{"dispatcher", r.dispatcher, false},
		{"e2e", r.endToEnd, false},
		{"reactivity", r.reactivity, false},
		{"footprint", r.footprint, false},
		{"fanout", r.fanOut, false},
		{"brokers", r.manyBrokersScenario, false},
		{"peer", r.peer, false},
		// The incumbent needs its jars built beforehand (hack/incumbent.sh build): only when asked.
		{"incumbent", r.incumbent, true},
	}
	plan, err := order(all, opts.Scenarios)
	if err != nil {
		_ = os.RemoveAll(work)
		return nil, err
	}
	r.res.Machine = machineInfo()
	r.res.Git = gitInfo(opts.Repo)
	defer func() {
		r.procs.stopAll()
		if r.kafka != nil {
			r.kafka.stop()
		}
		if r.res != nil && len(r.res.Errors) == 0 {
			_ = os.RemoveAll(work)
		} else {
			r.logf("logs of the processes kept in %s", work)
		}
	}()
	if opts.MicroFile != "" {
		micro, err := parseMicro(opts.MicroFile)
		if err != nil {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("micro-benchmarks: %v", err))
		}
		r.res.Micro = micro
	}

	if opts.Bootstrap != "" {
		r.kafka, err = useKafka(strings.Split(opts.Bootstrap, ","))
	} else {
		r.logf("starting a private Kafka with hack/kafka.sh")
		r.kafka, err = startKafka(ctx, opts.Repo, filepath.Join(work, "kafka"))
	}
	if err != nil {
		return nil, err
	}
	r.res.Kafka = KafkaInfo{Version: r.kafka.version, Bootstrap: r.kafka.servers, Nodes: 1}
	if r.sink, err = newSink(ctx); err != nil {
		return nil, err
	}
	if err := r.warmKafka(ctx); err != nil {
		return nil, err
	}

	for _, s := range plan {
		if ctx.Err() != nil {
			break
		}
		r.logf("== %s (load average %s)", s.name, loadAvgString())
		start := time.Now()
		if err := s.run(ctx); err != nil {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s: %v", s.name, err))
			r.logf("!! %s failed: %v", s.name, err)
		}
		r.procs.stopAll()
		r.logf("   %s took %s", s.name, time.Since(start).Round(time.Second))
	}
	r.res.FinishedAt = time.Now().UTC()
	r.res.WallSeconds = round(r.res.FinishedAt.Sub(r.res.StartedAt).Seconds(), 1)
	r.res.Machine.LoadAvgEnd = loadAvg()
	r.res.Machine.LoadNote = loadNote(r.res.Machine)
	r.res.Notes = append(r.res.Notes, standingNotes...)
	r.res.computeChecks()
	if err := ctx.Err(); err != nil {
		r.res.Errors = append(r.res.Errors, "interrupted: "+err.Error())
	}
	return r, nil
}

// standingNotes explain what the figures are and are not.
var standingNotes = []string{
	"Everything runs on one machine: vegeta, the subscriber and Kafka share the cores with the process measured, as they do for its ceilings.",
	"Java peer figures are from the team's notes (same machine kind, an earlier run), not measured in this run; so are the rows marked \"issue 16, another run\". Rows marked \"incumbent, this run\" were measured in this run (the opt-in incumbent scenario).",
	"Fan-out: one shared reader per topic feeds every trigger's lane, so bytes read and connections to Kafka stay those of one trigger; deliveries in flight are bounded across all triggers (--max-deliveries, 1,000).",
	"The Knative peer is the in-memory channel's data path (no Kafka, nothing durable) and answers only after its subscriber did.",
}

// order returns the scenarios to run: with no names, every one but the opt-in ones, in their
// standing order; else the ones named, in the order named (so the order a shared Kafka broker warms
// up in can be swapped: "incumbent,e2e" against "e2e,incumbent"). An unknown name is an error.
func order(all []scenario, names []string) ([]scenario, error) {
	var out []scenario
	if len(names) == 0 {
		for _, s := range all {
			if !s.optIn {
				out = append(out, s)
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if seen[n] {
			continue
		}
		found := false
		for _, s := range all {
			if s.name == n {
				out, found, seen[n] = append(out, s), true, true
				break
			}
		}
		if !found {
			var known []string
			for _, s := range all {
				known = append(known, s.name)
			}
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// warmKafka waits until the new broker serves group coordination (its first group join sees
// NOT_COORDINATOR while __consumer_offsets is created).
func (r *runner) warmKafka(ctx context.Context) error {
	// Unique per run, so a reused Kafka (BENCH_BOOTSTRAP) does not already have it.
	topic := fmt.Sprintf("bench-warmup-%d", time.Now().UnixNano())
	if err := r.kafka.createTopic(ctx, topic, 1); err != nil {
		return err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := r.kafka.commitStart(ctx, topic, topic)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka group coordination not ready: %w", err)
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// WriteResults writes the JSON, the Markdown and the plots under dir and returns the JSON path.
func WriteResults(res *Results, r *Rendered, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	stamp := res.StartedAt.Format("20060102T150405Z")
	base := filepath.Join(dir, stamp+"-"+res.Profile.Name)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", err
	}
	var errs []error
	errs = append(errs, os.WriteFile(base+".json", b, 0o644))
	errs = append(errs, os.WriteFile(base+".md", []byte(r.Markdown), 0o644))
	for name, png := range r.Plots {
		errs = append(errs, os.WriteFile(base+"-"+name+".png", png, 0o644))
	}
	// latest.* point at the newest run.
	for _, ext := range []string{".json", ".md"} {
		link := filepath.Join(dir, "latest"+ext)
		_ = os.Remove(link)
		errs = append(errs, os.Symlink(filepath.Base(base+ext), link))
	}
	return base + ".json", errors.Join(errs...)
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemoryGiB = round(kb/1024/1024, 1)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

func loadAvgString() string {
	l := loadAvg()
	return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
}

func loadNote(m Machine) string {
	if m.LoadAvgStart[0] > 0.5*float64(m.CPUs) {
		return fmt.Sprintf("the machine was busy before the run (1-min load %.2f on %d cores): other work competed with the benchmark", m.LoadAvgStart[0], m.CPUs)
	}
	return fmt.Sprintf("1-min load %.2f on %d cores before the run", m.LoadAvgStart[0], m.CPUs)
}

func gitInfo(repo string) GitInfo {
	var g GitInfo
	if out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output(); err == nil {
		g.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", repo, "status", "--porcelain").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) != "" {
				g.Dirty++
			}
		}
	}
	return g
}
