package bench

import (
	"context"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Step is one constant-rate, open-loop vegeta attack on one target.
type Step struct {
	Offered        int            `json:"offeredPerSec"`
	Seconds        float64        `json:"seconds"`
	Requests       int            `json:"requests"`
	Accepted       int            `json:"accepted"`
	AcceptedPerSec float64        `json:"acceptedPerSec"`
	SuccessPct     float64        `json:"successPct"`
	Codes          map[string]int `json:"codes"`
	Errors         []string       `json:"errors,omitempty"`
	Latency        Latency        `json:"latency"`
	// CPUSeconds and EventsPerCPUSecond are of the target process (and its helpers, see Procs).
	CPUSeconds         float64  `json:"cpuSeconds,omitempty"`
	EventsPerCPUSecond float64  `json:"eventsPerCpuSecond,omitempty"`
	Memory             *Memory  `json:"memory,omitempty"`
	Procs              []string `json:"procs,omitempty"`
	// Profiles are the CPU profiles taken of the target during the step (BENCH_PPROF).
	Profiles []string `json:"profiles,omitempty"`
	// BrokerCPUSeconds is the Kafka broker's CPU over the step (-1 when unknown; absent for
	// targets that do not write to Kafka), and EventsPerCPUSecondInclBroker divides accepted
	// events by the target's CPU plus the broker's.
	BrokerCPUSeconds             float64 `json:"brokerCpuSeconds,omitempty"`
	EventsPerCPUSecondInclBroker float64 `json:"eventsPerCpuSecondInclBroker,omitempty"`

	latencies []time.Duration
}

// loader attacks one URL; its connection pool is kept across steps (keep-alive).
type loader struct {
	url    string
	client *http.Client
	body   []byte
	seq    atomic.Int64
	// broker, when set, is the Kafka whose CPU each step also measures.
	broker *kafka
}

func newLoader(url string, size int) *loader {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 10000,
		MaxIdleConns:        10000,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &loader{url: url, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, body: payload(size)}
}

// attack sends rate events per second for d, with ids "<phase>-<n>" (n counting from 0 per
// phase) and, when stamp, the send time as an extension. CPU is measured for procs.
func (l *loader) attack(ctx context.Context, phase string, rate int, d time.Duration, stamp bool, procs ...*Proc) Step {
	l.seq.Store(0)
	atk := vegeta.NewAttacker(vegeta.Client(l.client), vegeta.KeepAlive(true), vegeta.Workers(16), vegeta.MaxWorkers(512))
	tr := func(t *vegeta.Target) error {
		n := int(l.seq.Add(1) - 1)
		t.Method = http.MethodPost
		t.URL = l.url
		t.Body = l.body
		t.Header = httpHeader(phase, n, eventType, stamp)
		return nil
	}
	usages := make([]usage, len(procs))
	for i, p := range procs {
		usages[i] = startUsage(p)
	}
	var bu brokerUsage
	if l.broker != nil {
		bu = l.broker.startUsage()
	}
	results := atk.Attack(tr, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, "")
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	st := Step{Offered: rate, Codes: map[string]int{}}
	errs := map[string]bool{}
	var first, end time.Time
	for res := range results {
		st.Requests++
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if e := res.Timestamp.Add(res.Latency); e.After(end) {
			end = e
		}
		st.Codes[strconv.Itoa(int(res.Code))]++
		if res.Code >= 200 && res.Code < 300 {
			st.Accepted++
			st.latencies = append(st.latencies, res.Latency)
		} else if res.Error != "" && len(errs) < 5 {
			errs[res.Error] = true
		}
	}
	for e := range errs {
		st.Errors = append(st.Errors, e)
	}
	sort.Strings(st.Errors)
	st.Seconds = round(end.Sub(first).Seconds(), 3)
	st.AcceptedPerSec = perSecond(float64(st.Accepted), st.Seconds)
	if st.Requests > 0 {
		st.SuccessPct = round(100*float64(st.Accepted)/float64(st.Requests), 3)
	}
	st.Latency = summarize(st.latencies)
	for i, u := range usages {
		cpu, _ := u.stop()
		st.CPUSeconds += cpu
		st.Procs = append(st.Procs, procs[i].Name)
	}
	st.CPUSeconds = round(st.CPUSeconds, 2)
	st.EventsPerCPUSecond = perSecond(float64(st.Accepted), st.CPUSeconds)
	if l.broker != nil {
		st.BrokerCPUSeconds = bu.stop()
		st.EventsPerCPUSecondInclBroker = perCPUSecondInclBroker(float64(st.Accepted), st.CPUSeconds, st.BrokerCPUSeconds)
	}
	if len(procs) == 1 {
		if m, err := procs[0].Memory(); err == nil {
			st.Memory = &m
		}
	}
	return st
}

// sustained says whether a step kept up with its offered rate.
func (s Step) sustained() bool {
	return s.SuccessPct >= 99 && s.AcceptedPerSec >= 0.9*float64(s.Offered)
}

// Ladder is a series of steps of rising rate until the target stopped keeping up.
type Ladder struct {
	Steps []Step `json:"steps"`
	// SaturationPerSec is the highest accepted rate of any step.
	SaturationPerSec float64 `json:"saturationPerSec"`
	// AtSaturation is the step that reached it.
	AtSaturation Step `json:"atSaturation"`
}

// ladder raises the rate by the profile's factor until a step is not sustained.
func (r *runner) ladder(ctx context.Context, l *loader, phase string, procs ...*Proc) Ladder {
	return r.ladderFrom(ctx, l, phase, float64(r.profile.LadderStart), procs...)
}

// ladderFrom is ladder starting at rate start.
func (r *runner) ladderFrom(ctx context.Context, l *loader, phase string, start float64, procs ...*Proc) Ladder {
	var lad Ladder
	rate := start
	for i := 0; ctx.Err() == nil && int(rate) <= r.profile.LadderMax; i++ {
		st := l.attack(ctx, phase+"-"+strconv.Itoa(i), int(rate), r.profile.StepDuration.Std(), false, procs...)
		r.logf("  %s at %d/s: %.0f accepted/s, %.2f%% ok, p99 %.2f ms, %.0f ev/cpu-s", phase, st.Offered,
			st.AcceptedPerSec, st.SuccessPct, st.Latency.P99, st.EventsPerCPUSecond)
		lad.Steps = append(lad.Steps, st)
		if st.AcceptedPerSec > lad.SaturationPerSec {
			lad.SaturationPerSec, lad.AtSaturation = st.AcceptedPerSec, st
		}
		if !st.sustained() {
			break
		}
		rate *= r.profile.LadderFactor
		sleepCtx(ctx, time.Second)
	}
	return lad
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// repeatFrom is where a second ladder after lad starts: two steps below the one that saturated,
// so that it measures the top of the ladder again without climbing all of it.
func (r *runner) repeatFrom(lad Ladder) float64 {
	rate := float64(r.profile.LadderStart)
	for i, st := range lad.Steps {
		if st.Offered == lad.AtSaturation.Offered {
			for range max(i-2, 0) {
				rate *= r.profile.LadderFactor
			}
			break
		}
	}
	return rate
}
