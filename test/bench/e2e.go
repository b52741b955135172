package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// endToEnd is scenario 3: events sent to the ingress process at a constant rate, through Kafka,
// delivered by a separate dispatcher process; latency from the send-time extension to arrival,
// lost and duplicated events counted by id; the CPU of both roles and of the Kafka broker, and
// the requests the broker received by API key. First the fixed rates (E2ERates), then the
// pipeline ladder (PipelineRates) until a step does not pass.
func (r *runner) endToEnd(ctx context.Context) error {
	topic := "bench-e2e"
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	file := r.contractFile("e2e")
	uid := "e2e"
	eg := r.egress("e2e-trigger", "bench-e2e", r.sink.URL+"/e2e", contract.Unordered, nil)
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, true, eg)}}); err != nil {
		return err
	}
	var extra []string
	if r.opts.PprofDir != "" {
		extra = append(extra, "--pprof")
	}
	in, err := r.startDataplane("e2e-ingress", "ingress", file, extra...)
	if err != nil {
		return err
	}
	disp, err := r.startDataplane("e2e-dispatcher", "dispatcher", file, extra...)
	if err != nil {
		return err
	}
	if err := in.waitReady(ctx, 1, []string{uid}, nil, 90*time.Second); err != nil {
		return err
	}
	if err := disp.waitReady(ctx, 1, nil, []string{eg.UID}, 90*time.Second); err != nil {
		return err
	}
	p := pipelineTarget{label: "knkafka", phasePrefix: "", url: "http://" + in.ingress + "/bench/" + uid, in: in.Proc, disp: disp.Proc,
		profile: func(phase string, d time.Duration) func() []string { return r.profileRoles(ctx, phase, d, in, disp) }}
	r.res.EndToEnd, r.res.Pipeline = r.measurePipeline(ctx, p)
	return ctx.Err()
}

// pipelineTarget is one pipeline scenario 3's measurement runs against: the ingress URL events are
// posted to, and the two processes whose CPU and memory are reported.
type pipelineTarget struct {
	// label names the pipeline in logs and plots; phasePrefix keeps its event ids apart.
	label, phasePrefix string
	url                string
	in, disp           *Proc
	// profile, when not nil, takes CPU profiles of both roles over a fixed-rate run.
	profile func(phase string, d time.Duration) func() []string
}

// measurePipeline is scenario 3's measurement, whoever's pipeline t is: a warm-up, the idle cores,
// the fixed rates (E2ERates) and the pipeline ladder (PipelineRates) until a step does not pass.
func (r *runner) measurePipeline(ctx context.Context, t pipelineTarget) ([]E2EResult, *PipelineResult) {
	l := newLoader(t.url, r.profile.EventSize)
	// Warm up every process on the path — the broker's JIT above all: a broker that has only just
	// started keeps compiling its request path for a minute or more. At 1k ev/s its CPU came out
	// 2.4× the warm figure after 2 s of warm-up, 1.6× after 10 s at 4k ev/s, 1.2× after 20 s.
	warm := r.profile.E2EDuration.Std()
	r.sink.Reset(t.phasePrefix+"warm", int(4000*warm.Seconds())+1000, 0)
	l.attack(ctx, t.phasePrefix+"warm", 4000, warm, true)
	waitFor(ctx, time.Minute, 20*time.Second, func() bool { return r.sink.Stats().Unique >= int64(4000*warm.Seconds()*0.99) },
		func() int64 { return r.sink.Stats().Total })
	sleepCtx(ctx, time.Second)
	idle := r.idleCores(ctx, 5*time.Second, t.in, t.disp)
	var fixed []E2EResult
	for _, rate := range r.profile.E2ERates {
		phase := t.phasePrefix + "e2e" + strconv.Itoa(rate)
		d := r.profile.E2EDuration.Std()
		stopProfiles := func() []string { return nil }
		if t.profile != nil {
			stopProfiles = t.profile(phase, d)
		}
		e, lat := r.e2eRun(ctx, l, phase, rate, d, t.in, t.disp)
		e.Profiles = stopProfiles()
		e.IngressMemory, _ = t.in.Memory()
		e.DispatcherMemory, _ = t.disp.Memory()
		fixed = append(fixed, e)
		r.plots.latency = append(r.plots.latency, latencySeries{fmt.Sprintf("%s end to end at %d/s", t.label, rate), lat})
		r.logf("  %s end to end at %d/s: p50 %.2f p99 %.2f p99.9 %.2f ms; %d accepted, %d lost, %d duplicates; CPU %.2f + %.2f, broker %.2f s (%.0f µs/event); requests %v",
			t.label, rate, e.Latency.P50, e.Latency.P99, e.Latency.P999, e.Accepted, e.Lost, e.Duplicates,
			e.IngressCPUSeconds, e.DispatcherCPUSeconds, e.BrokerCPUSeconds, e.cpuMicrosPerEvent(), e.KafkaRequests)
		if ctx.Err() != nil {
			return fixed, nil
		}
		sleepCtx(ctx, time.Second)
	}
	p := &PipelineResult{IdleCores: idle}
	for i, rate := range r.profile.PipelineRates {
		e, _ := r.e2eRun(ctx, l, t.phasePrefix+"pipeline"+strconv.Itoa(i), rate, r.profile.PipelineStep.Std(), t.in, t.disp)
		p.Steps = append(p.Steps, e)
		r.logf("  %s pipeline at %d/s: %s, %d/%d accepted, %d lost, p99 %.2f ms, %.0f µs/event", t.label, rate, map[bool]string{true: "passed", false: "failed"}[e.Passed],
			e.Accepted, e.Sent, e.Lost, e.Latency.P99, e.cpuMicrosPerEvent())
		if !e.Passed || ctx.Err() != nil {
			break
		}
		p.SaturationPerSec = float64(rate)
		sleepCtx(ctx, time.Second)
	}
	return fixed, p
}

// e2eRun sends rate events/s for d to l and waits for them at the sink. ingress and dispatcher,
// when not nil, are the processes whose CPU is reported; with a dispatcher, the broker's CPU and
// the requests it received are reported too.
func (r *runner) e2eRun(ctx context.Context, l *loader, phase string, rate int, d time.Duration, ingress, dispatcher *Proc) (E2EResult, []time.Duration) {
	r.sink.Reset(phase, int(float64(rate)*d.Seconds()*1.5)+1000, 0)
	var ui, ud usage
	var bu brokerUsage
	var req0 map[string]int64
	var reqErr error
	if dispatcher != nil {
		// Read before the CPU counters start: JmxTool is a JVM of its own, and the broker answers it.
		req0, reqErr = r.kafka.requestCounts(ctx)
	}
	if ingress != nil {
		ui = startUsage(ingress)
	}
	if dispatcher != nil {
		ud = startUsage(dispatcher)
		bu = r.kafka.startUsage()
	}
	st := l.attack(ctx, phase, rate, d, true)
	accepted := int64(st.Accepted)
	waitFor(ctx, 2*time.Minute, 20*time.Second, func() bool { return r.sink.Stats().Unique >= accepted },
		func() int64 { return r.sink.Stats().Total })
	sleepCtx(ctx, time.Second) // late duplicates
	ss := r.sink.Stats()
	lat := r.sink.Latencies()
	e := E2EResult{Rate: rate, Seconds: st.Seconds, Sent: st.Requests, Accepted: st.Accepted, Delivered: ss.Unique,
		Lost: max(accepted-ss.Unique, 0), Duplicates: ss.Total - ss.Unique, Latency: summarize(lat), IngressLatency: st.Latency}
	if ingress != nil {
		cpu, _ := ui.stop()
		e.IngressCPUSeconds = round(cpu, 2)
		e.IngressEventsPerCPUSecond = perSecond(float64(st.Accepted), cpu)
	}
	if dispatcher != nil {
		cpu, _ := ud.stop()
		e.DispatcherCPUSeconds = round(cpu, 2)
		e.DispatcherEventsPerCPUSecond = perSecond(float64(ss.Unique), cpu)
		e.BrokerCPUSeconds = bu.stop()
		e.EventsPerCPUSecondInclBroker = perCPUSecondInclBroker(float64(ss.Unique), e.IngressCPUSeconds+e.DispatcherCPUSeconds, e.BrokerCPUSeconds)
		if reqErr == nil {
			req1, err := r.kafka.requestCounts(ctx)
			if err == nil {
				e.KafkaRequests = requestDelta(req0, req1)
			}
		}
	}
	e.Passed = pipelinePassed(e)
	return e, lat
}

// profileRoles takes a CPU profile of each data plane over the middle of a run of d (when the run
// was asked for profiles, BENCH_PPROF) and returns a function that waits for them and returns the
// files written.
func (r *runner) profileRoles(ctx context.Context, phase string, d time.Duration, dps ...*dataplane) func() []string {
	if r.opts.PprofDir == "" || d < 4*time.Second {
		return func() []string { return nil }
	}
	secs := int((d - 3*time.Second).Seconds())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		files []string
	)
	for _, dp := range dps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepCtx(ctx, 2*time.Second)
			path := filepath.Join(r.opts.PprofDir, fmt.Sprintf("%s-%s-%s.pprof", r.res.StartedAt.Format("20060102T150405Z"), phase, dp.Name))
			if err := fetchProfile(ctx, "http://"+dp.admin+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), path); err != nil {
				r.logf("  profiling %s: %v", dp.Name, err)
				return
			}
			mu.Lock()
			files = append(files, path)
			mu.Unlock()
		}()
	}
	return func() []string {
		wg.Wait()
		return files
	}
}

// fetchProfile saves the profile served at url to path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// idleCores measures the cores ingress, dispatcher and the Kafka broker use over d with nothing
// sent: the floor under every run's CPU (the broker's KRaft heartbeats and housekeeping, our
// readers' empty fetches every FetchMaxWait).
func (r *runner) idleCores(ctx context.Context, d time.Duration, ingress, dispatcher *Proc) IdleCores {
	ui, ud, bu := startUsage(ingress), startUsage(dispatcher), r.kafka.startUsage()
	sleepCtx(ctx, d)
	ci, wall := ui.stop()
	cd, _ := ud.stop()
	cb := bu.stop()
	ic := IdleCores{Ingress: round(ci/wall, 3), Dispatcher: round(cd/wall, 3), Broker: -1}
	if cb >= 0 {
		ic.Broker = round(cb/wall, 3)
	}
	r.logf("  idle: ingress %.3f, dispatcher %.3f, broker %.3f cores", ic.Ingress, ic.Dispatcher, ic.Broker)
	return ic
}
