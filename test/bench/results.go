package bench

import (
	"fmt"
	"time"
)

// Results is everything one run measured; it is written as JSON next to the Markdown table.
type Results struct {
	Profile     Profile            `json:"profile"`
	StartedAt   time.Time          `json:"startedAt"`
	FinishedAt  time.Time          `json:"finishedAt"`
	WallSeconds float64            `json:"wallSeconds"`
	Machine     Machine            `json:"machine"`
	Kafka       KafkaInfo          `json:"kafka"`
	Git         GitInfo            `json:"git"`
	Checks      []Check            `json:"checks"`
	Ingress     *IngressResult     `json:"ingress,omitempty"`
	Dispatcher  *DispatcherResult  `json:"dispatcher,omitempty"`
	EndToEnd    []E2EResult        `json:"endToEnd,omitempty"`
	Pipeline    *PipelineResult    `json:"pipeline,omitempty"`
	FanOut      []FanOutResult     `json:"fanOut,omitempty"`
	ManyBrokers *ManyBrokersResult `json:"manyBrokers,omitempty"`
	Footprint   *FootprintResult   `json:"footprint,omitempty"`
	Reactivity  *ReactivityResult  `json:"reactivity,omitempty"`
	Peer        *PeerResult        `json:"peer,omitempty"`
	// Incumbent is Knative's Kafka broker data plane through scenario 3, measured in this run
	// (the opt-in "incumbent" scenario).
	Incumbent *IncumbentResult `json:"incumbent,omitempty"`
	Micro     []MicroBenchmark `json:"micro,omitempty"`
	// JavaPeer are the Java data plane's figures from the team's notes (measured on this machine
	// kind in an earlier run, not in this one); the checks divide by them.
	JavaPeer map[string]float64 `json:"javaPeerFromNotes"`
	Notes    []string           `json:"notes,omitempty"`
	Errors   []string           `json:"errors,omitempty"`
}

// Machine describes where the run happened and how busy the machine was.
type Machine struct {
	CPUs         int        `json:"nproc"`
	Model        string     `json:"cpuModel"`
	MemoryGiB    float64    `json:"memoryGiB"`
	Kernel       string     `json:"kernel"`
	GoVersion    string     `json:"goVersion"`
	LoadAvgStart [3]float64 `json:"loadAvgStart"`
	LoadAvgEnd   [3]float64 `json:"loadAvgEnd"`
	LoadNote     string     `json:"loadNote"`
}

// KafkaInfo says which Kafka served the run.
type KafkaInfo struct {
	Version   string   `json:"version"`
	Bootstrap []string `json:"bootstrap"`
	Nodes     int      `json:"nodes"`
}

// GitInfo names the code measured.
type GitInfo struct {
	Commit string `json:"commit"`
	// Dirty counts files changed since Commit (the working tree was measured).
	Dirty int `json:"dirtyFiles"`
}

// IngressResult is scenario 1.
type IngressResult struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	// ProduceCeiling is franz-go producing the same records with acks=all as fast as it can.
	ProduceCeiling ProduceResult `json:"produceCeiling"`
	// ProduceAt1k is franz-go producing 1,000 records/s one by one: the ack latency floor.
	ProduceAt1k ProduceResult `json:"produceAt1k"`
	// BareHTTP is a bare net/http server answering 202 under the same vegeta ladder.
	BareHTTP      Ladder `json:"bareHttp"`
	BareHTTPFixed []Step `json:"bareHttpFixed"`
	// Ingress is knkafka's ingress process under the ladder and at fixed rates.
	Ingress    Ladder `json:"ingress"`
	Fixed      []Step `json:"fixed"`
	IdleMemory Memory `json:"idleMemory"`
	LoadMemory Memory `json:"loadMemory"`
	// Profiled is the extra step run near saturation when profiles were asked for (BENCH_PPROF).
	Profiled *Step `json:"profiled,omitempty"`
	// BareHTTPAgain and IngressAgain climb the top of each ladder a second time, after both
	// first ladders (see BareSaturation).
	BareHTTPAgain *Ladder `json:"bareHttpAgain,omitempty"`
	IngressAgain  *Ladder `json:"ingressAgain,omitempty"`
}

// BareSaturation is the bare server's saturation: the better of its two ladders.
func (in *IngressResult) BareSaturation() float64 { return better(in.BareHTTP, in.BareHTTPAgain) }

// IngressSaturation is the ingress's saturation: the better of its two ladders.
func (in *IngressResult) IngressSaturation() float64 { return better(in.Ingress, in.IngressAgain) }

func better(first Ladder, again *Ladder) float64 {
	if again == nil {
		return first.SaturationPerSec
	}
	return max(first.SaturationPerSec, again.SaturationPerSec)
}

// Drain is one backlog drained to the subscriber.
type Drain struct {
	Name       string `json:"name"`
	Events     int    `json:"events"`
	Unique     int64  `json:"unique"`
	Duplicates int64  `json:"duplicates"`
	// Seconds is from the first to the last arrival; PerSec divides Events by it.
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"perSec"`
	// FirstArrivalSeconds is from the contract write (or process start) to the first arrival.
	FirstArrivalSeconds float64 `json:"firstArrivalSeconds,omitempty"`
	CPUSeconds          float64 `json:"cpuSeconds"`
	EventsPerCPUSecond  float64 `json:"eventsPerCpuSecond"`
	// BrokerCPUSeconds is the Kafka broker's CPU over the drain (-1 when unknown; absent for the
	// bare client, which does not read Kafka); EventsPerCPUSecondInclBroker divides by ours plus it.
	BrokerCPUSeconds             float64 `json:"brokerCpuSeconds,omitempty"`
	EventsPerCPUSecondInclBroker float64 `json:"eventsPerCpuSecondInclBroker,omitempty"`
	Memory                       *Memory `json:"memory,omitempty"`
	Error                        string  `json:"error,omitempty"`
}

// DispatcherResult is scenario 2.
type DispatcherResult struct {
	Topic          string        `json:"topic"`
	Partitions     int           `json:"partitions"`
	Events         int           `json:"events"`
	Keys           int           `json:"keys"`
	MaxInFlight    int           `json:"maxInFlight"`
	Preload        ProduceResult `json:"preload"`
	ConsumeCeiling ConsumeResult `json:"consumeCeiling"`
	BareClient     Drain         `json:"bareClient"`
	// BareClientH1 is the same client on the dispatcher's own transport (h1transport): the
	// ceiling for what the dispatcher adds beyond its HTTP exchanges.
	BareClientH1 Drain   `json:"bareClientH1"`
	Modes        []Drain `json:"modes"`
	IdleMemory   Memory  `json:"idleMemory"`
	LoadMemory   Memory  `json:"loadMemory"`
}

// E2EResult is scenario 3 at one rate.
type E2EResult struct {
	Rate       int     `json:"rate"`
	Seconds    float64 `json:"seconds"`
	Sent       int     `json:"sent"`
	Accepted   int     `json:"accepted"`
	Delivered  int64   `json:"delivered"`
	Lost       int64   `json:"lost"`
	Duplicates int64   `json:"duplicates"`
	// Latency is from the send-time extension to arrival at the subscriber.
	Latency Latency `json:"latency"`
	// IngressLatency is the HTTP response time the producer saw.
	IngressLatency               Latency `json:"ingressLatency"`
	IngressEventsPerCPUSecond    float64 `json:"ingressEventsPerCpuSecond"`
	DispatcherEventsPerCPUSecond float64 `json:"dispatcherEventsPerCpuSecond"`
	// IngressCPUSeconds, DispatcherCPUSeconds and BrokerCPUSeconds (the Kafka broker's JVM, -1
	// when unknown) are over the run; EventsPerCPUSecondInclBroker divides delivered events by
	// their sum.
	IngressCPUSeconds            float64 `json:"ingressCpuSeconds,omitempty"`
	DispatcherCPUSeconds         float64 `json:"dispatcherCpuSeconds,omitempty"`
	BrokerCPUSeconds             float64 `json:"brokerCpuSeconds,omitempty"`
	EventsPerCPUSecondInclBroker float64 `json:"eventsPerCpuSecondInclBroker,omitempty"`
	IngressMemory                Memory  `json:"ingressMemory"`
	DispatcherMemory             Memory  `json:"dispatcherMemory"`
	// KafkaRequests counts the requests the broker received over the run by API key (Produce,
	// Fetch, OffsetCommit, ...; its RequestMetrics RequestsPerSec counts, read with JmxTool before
	// and after), from every client: both roles, and nothing else runs meanwhile but the broker's
	// own controller traffic (BrokerHeartbeat and the like in KRaft's combined mode).
	KafkaRequests map[string]int64 `json:"kafkaRequests,omitempty"`
	// Passed says whether the run meets the pipeline ladder's criterion (pipelinePassed).
	Passed bool `json:"passed"`
	// Profiles are the CPU profiles taken of the roles during the run (BENCH_PPROF).
	Profiles []string `json:"profiles,omitempty"`
}

// cpuSeconds is the CPU of both roles and the broker over the run (the broker's only when known).
func (e E2EResult) cpuSeconds() float64 {
	return e.IngressCPUSeconds + e.DispatcherCPUSeconds + max(e.BrokerCPUSeconds, 0)
}

// cpuMicrosPerEvent is the CPU of both roles and the broker per delivered event, in µs.
func (e E2EResult) cpuMicrosPerEvent() float64 {
	if e.Delivered == 0 {
		return 0
	}
	return round(e.cpuSeconds()/float64(e.Delivered)*1e6, 1)
}

// cores is what CPU per event costs at the run's rate: CPU-seconds per event × events per second.
func (e E2EResult) cores(cpu float64) float64 {
	if e.Delivered == 0 {
		return 0
	}
	return round(cpu/float64(e.Delivered)*float64(e.Rate), 3)
}

// pipelineMaxP99 and pipelineMinAccepted are issue 16's criterion for a step of the end-to-end
// ladder: at least 99 % of the events sent accepted, and all of them delivered with a p99 (send to
// arrival) of at most 100 ms.
const (
	pipelineMaxP99      = 100.0
	pipelineMinAccepted = 0.99
)

// pipelinePassed says whether e meets the pipeline criterion.
func pipelinePassed(e E2EResult) bool {
	return e.Sent > 0 && float64(e.Accepted) >= pipelineMinAccepted*float64(e.Sent) && e.Lost == 0 &&
		e.Latency.Count > 0 && e.Latency.P99 <= pipelineMaxP99
}

// PipelineResult is scenario 3's ladder: rising rates through ingress → Kafka → dispatcher →
// subscriber until a step does not pass.
type PipelineResult struct {
	Steps []E2EResult `json:"steps"`
	// SaturationPerSec is the highest rate of a step that passed.
	SaturationPerSec float64 `json:"saturationPerSec"`
	// IdleCores is what each process used with nothing sent, measured before the fixed rates.
	IdleCores IdleCores `json:"idleCores"`
}

// IdleCores is the CPU of the pipeline's processes with nothing flowing (the broker's -1 when
// unknown).
type IdleCores struct {
	Ingress    float64 `json:"ingress"`
	Dispatcher float64 `json:"dispatcher"`
	Broker     float64 `json:"broker"`
}

// The incumbent's figures (Knative's Kafka broker: Java receiver + dispatcher) from issue 16's
// table, measured on this machine kind in another run with the same criterion; not in this run.
const (
	incumbentSaturation       = 10000.0
	incumbentIngressCores1k   = 0.21
	incumbentDispatcherCores1 = 0.24
	incumbentBrokerCores1k    = 0.30
	// incumbentEvPerCPUAtSat is both roles' events per CPU-second at saturation (11.7k and 12.4k in
	// two ladders; the better one), the broker not counted.
	incumbentEvPerCPUAtSat = 12400.0
	incumbentP99At1kLow    = 3.3
	incumbentP99At1kHigh   = 5.6
	// pipelineP99Goal is issue 16's goal for the end-to-end p99 at 1,000 ev/s, in ms.
	pipelineP99Goal = 3.0
)

// incumbentMicrosPerEvent1k is the incumbent's CPU per event at 1,000 ev/s, both roles and the
// broker: 0.75 cores / 1,000 ev/s.
const incumbentMicrosPerEvent1k = (incumbentIngressCores1k + incumbentDispatcherCores1 + incumbentBrokerCores1k) * 1e6 / 1000

// FanOutResult is scenario 4 at one trigger count.
type FanOutResult struct {
	Triggers           int   `json:"triggers"`
	Events             int   `json:"events"`
	ExpectedDeliveries int64 `json:"expectedDeliveries"`
	Delivered          int64 `json:"delivered"`
	// AllReadySeconds is from launching the dispatcher on the empty topic to every trigger Ready.
	AllReadySeconds float64 `json:"allReadySeconds"`
	// Seconds is from the first delivery to the last; DeliveredPerSec divides by it.
	Seconds         float64 `json:"seconds"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	// BareClientPerSec is a bare Go HTTP client posting as many events to the same subscriber
	// with the dispatcher's in-flight limit as its concurrency; VsBareClient the ratio.
	BareClientPerSec float64 `json:"bareClientPerSec"`
	VsBareClient     float64 `json:"vsBareClient"`
	// RecordsReadPerSec counts every egress's reads: each reads the whole topic today.
	RecordsReadPerSec float64 `json:"recordsReadPerSec"`
	// CPUSeconds is the draining dispatcher's whole life, start-up included; BrokerCPUSeconds (the
	// Kafka broker's JVM, -1 when unknown) is from its launch to the last delivery.
	CPUSeconds                       float64 `json:"cpuSeconds"`
	BrokerCPUSeconds                 float64 `json:"brokerCpuSeconds"`
	DeliveriesPerCPUSecondInclBroker float64 `json:"deliveriesPerCpuSecondInclBroker,omitempty"`
	// IdleRSSMiB is with every trigger Ready and nothing to read (the first dispatcher);
	// PeakRSSMiB is the draining dispatcher's peak (VmHWM) by the end of the drain.
	IdleRSSMiB float64 `json:"idleRssMiB"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
	// IdleConns and PeakConns are established TCP connections from the dispatcher to the Kafka
	// listener: idle, and at most while draining (sampled every 200 ms).
	IdleConns int `json:"idleConns"`
	PeakConns int `json:"peakConns"`
	// Detaches and Rejoins count a lane's partitions leaving the shared reader to catch up on
	// their own and coming back during the drain (knkafka_dispatcher_lane_catch_ups_total); each
	// detached partition reads through a client of its own, so they explain extra connections.
	Detaches int64 `json:"detaches"`
	Rejoins  int64 `json:"rejoins"`
	// BytesFetched is the broker's count of record bytes it returned to consumers during the
	// drain (BrokerTopicMetrics BytesOutPerSec); BytesFetchedVsOne divides it per backlog event
	// by the 1-trigger step's.
	BytesFetched      int64   `json:"bytesFetched"`
	BytesFetchedVsOne float64 `json:"bytesFetchedVsOne,omitempty"`
	// ShortEgresses counts egresses that received fewer events than their filter matches.
	ShortEgresses int    `json:"shortEgresses,omitempty"`
	Error         string `json:"error,omitempty"`
}

// FootprintResult is scenario 5.
type FootprintResult struct {
	Triggers               int     `json:"triggers"`
	IngressIdle0           *Memory `json:"ingressIdle0,omitempty"`
	IngressIdleN           *Memory `json:"ingressIdleN,omitempty"`
	DispatcherIdle0        *Memory `json:"dispatcherIdle0,omitempty"`
	DispatcherIdleN        *Memory `json:"dispatcherIdleN,omitempty"`
	DispatcherReadySeconds float64 `json:"dispatcherReadySeconds,omitempty"`
	// DispatcherIdleCores is the CPU the idle dispatcher with N triggers uses (cores).
	DispatcherIdleCores float64 `json:"dispatcherIdleCores,omitempty"`
	IngressLoad         *Memory `json:"ingressLoad,omitempty"`
	DispatcherLoad      *Memory `json:"dispatcherLoad,omitempty"`
}

// ReactivityResult is scenario 6.
type ReactivityResult struct {
	// StartupSeconds is from launching a dispatcher to its first delivery (the topic is live).
	StartupSeconds float64 `json:"startupSeconds"`
	// ChangeSeconds are from writing a contract that adds an egress to its first delivery.
	ChangeSeconds []float64 `json:"changeSeconds"`
	MedianSeconds float64   `json:"medianSeconds"`
	ProduceRate   int       `json:"produceRate"`
}

// PeerResult is scenario 7: Knative's in-memory channel under the same load.
type PeerResult struct {
	Name       string     `json:"name"`
	Ladder     Ladder     `json:"ladder"`
	Fixed      []Step     `json:"fixed"`
	E2E        *E2EResult `json:"e2eAt1k,omitempty"`
	IdleMemory Memory     `json:"idleMemory"`
	LoadMemory Memory     `json:"loadMemory"`
	Note       string     `json:"note"`
}

// Check is one figure against its reference, as a ratio with the target from the notes.
type Check struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Reference float64 `json:"reference"`
	// RefSource says where the reference comes from: a ceiling of this run or the Java peer (notes).
	RefSource string  `json:"refSource"`
	Ratio     float64 `json:"ratio"`
	// Target is the ratio the notes ask for, as text ("≥ 0.8"); empty when informative only.
	Target string `json:"target,omitempty"`
	Pass   *bool  `json:"pass,omitempty"`
}

// The Java peer's figures (docs/notes "The bar"), measured on this machine kind, not in this run.
const (
	javaIngressSaturation     = 8000.0
	javaIngressP50At1k        = 0.60
	javaIngressP99At1k        = 2.6
	javaIngressEvCPU1k        = 4900.0
	javaIngressEvCPUSat       = 16600.0
	javaE2EP50At1k            = 1.0
	javaE2EP99At1k            = 17.0
	javaE2EP999At1k           = 107.0
	javaDispatcherDrain       = 9300.0
	javaDispatcherCores       = 1.25
	javaIngressIdleMiB        = 195.0
	javaIngressLoadMiB        = 338.0
	javaDispatcherIdleMiB     = 213.0
	javaDispatcherLoadMiB     = 379.0
	javaStartupSeconds        = 8.5
	javaContractChangeSeconds = 0.45
)

func javaFigures() map[string]float64 {
	return map[string]float64{
		"ingressSaturationPerSec": javaIngressSaturation, "ingressP50At1kMs": javaIngressP50At1k,
		"ingressP99At1kMs": javaIngressP99At1k, "ingressEventsPerCpuSecondAt1k": javaIngressEvCPU1k,
		"ingressEventsPerCpuSecondAt8k": javaIngressEvCPUSat, "e2eP50At1kMs": javaE2EP50At1k,
		"e2eP99At1kMs": javaE2EP99At1k, "e2eP999At1kMs": javaE2EP999At1k,
		"dispatcherDrainPerSec": javaDispatcherDrain, "dispatcherCores": javaDispatcherCores,
		"dispatcherEventsPerCpuSecond": javaDispatcherDrain / javaDispatcherCores,
		"ingressIdleMiB":               javaIngressIdleMiB, "ingressLoadMiB": javaIngressLoadMiB,
		"dispatcherIdleMiB": javaDispatcherIdleMiB, "dispatcherLoadMiB": javaDispatcherLoadMiB,
		"startupSeconds": javaStartupSeconds, "contractChangeSecondsMax": javaContractChangeSeconds,
	}
}

// atLeast makes a check passing when value/reference ≥ target.
func atLeast(name, unit string, value, ref float64, src string, target float64) Check {
	c := Check{Name: name, Unit: unit, Value: value, Reference: ref, RefSource: src, Target: fmt.Sprintf("≥ %.3g", target)}
	if ref > 0 {
		c.Ratio = round(value/ref, 3)
		ok := value/ref >= target
		c.Pass = &ok
	}
	return c
}

// atMost makes a check passing when value/reference ≤ target.
func atMost(name, unit string, value, ref float64, src string, target float64) Check {
	c := Check{Name: name, Unit: unit, Value: value, Reference: ref, RefSource: src, Target: fmt.Sprintf("≤ %.3g", target)}
	if ref > 0 {
		c.Ratio = round(value/ref, 3)
		ok := value > 0 && value/ref <= target
		c.Pass = &ok
	}
	return c
}

// info makes a check without a target.
func info(name, unit string, value, ref float64, src string) Check {
	c := Check{Name: name, Unit: unit, Value: value, Reference: ref, RefSource: src}
	if ref > 0 {
		c.Ratio = round(value/ref, 3)
	}
	return c
}

const (
	srcCeiling = "ceiling, this run"
	srcJava    = "Java peer (notes)"
	srcKnative = "Knative IMC, this run"
	// srcIncumbent marks figures of issue 16's table: the incumbent measured in another run.
	srcIncumbent = "incumbent (issue 16, another run)"
	srcGoal      = "goal (issue 16)"
	// srcIncumbentHere marks the incumbent measured in this run (the "incumbent" scenario).
	srcIncumbentHere = "incumbent, this run"
)

// computeChecks derives the ratios the notes ask for from whatever scenarios ran.
func (res *Results) computeChecks() {
	var cs []Check
	if in := res.Ingress; in != nil {
		cs = append(cs, atLeast("ingress saturation vs bare HTTP server", "ev/s", in.IngressSaturation(), in.BareSaturation(), srcCeiling, 0.8))
		cs = append(cs, info("ingress saturation vs franz-go produce", "ev/s", in.IngressSaturation(), in.ProduceCeiling.RecordsPerSec, srcCeiling))
		if s, ok := stepAt(in.Fixed, 1000); ok {
			cs = append(cs, info("ingress p99 at 1k/s vs Java", "ms", s.Latency.P99, javaIngressP99At1k, srcJava))
			cs = append(cs, atLeast("ingress ev/CPU-s at 1k/s vs Java", "ev/cpu-s", s.EventsPerCPUSecond, javaIngressEvCPU1k, srcJava, 2))
		}
		cs = append(cs, atLeast("ingress ev/CPU-s at saturation vs Java at 8k/s", "ev/cpu-s", in.Ingress.AtSaturation.EventsPerCPUSecond, javaIngressEvCPUSat, srcJava, 2))
		cs = append(cs, atMost("ingress idle RSS vs Java", "MiB", in.IdleMemory.RSSMiB, javaIngressIdleMiB, srcJava, 0.25))
		cs = append(cs, atMost("ingress peak RSS under load vs Java", "MiB", in.LoadMemory.PeakMiB, javaIngressLoadMiB, srcJava, 0.25))
	}
	if d := res.Dispatcher; d != nil {
		for _, m := range d.Modes {
			if m.Name == "unordered" {
				cs = append(cs, atLeast("dispatcher drain (unordered) vs bare HTTP client", "ev/s", m.PerSec, d.BareClient.PerSec, srcCeiling, 0.8))
				cs = append(cs, info("dispatcher drain (unordered) vs franz-go consume", "ev/s", m.PerSec, d.ConsumeCeiling.RecordsPerSec, srcCeiling))
				cs = append(cs, atLeast("dispatcher ev/CPU-s (unordered drain) vs Java", "ev/cpu-s", m.EventsPerCPUSecond, javaDispatcherDrain/javaDispatcherCores, srcJava, 2))
			}
		}
		cs = append(cs, atMost("dispatcher idle RSS vs Java", "MiB", d.IdleMemory.RSSMiB, javaDispatcherIdleMiB, srcJava, 0.25))
		cs = append(cs, atMost("dispatcher peak RSS under load vs Java", "MiB", d.LoadMemory.PeakMiB, javaDispatcherLoadMiB, srcJava, 0.25))
	}
	for _, e := range res.EndToEnd {
		switch e.Rate {
		case 1000:
			cs = append(cs, atMost("end-to-end p99 at 1k/s vs goal (issue 16)", "ms", e.Latency.P99, pipelineP99Goal, srcGoal, 1))
			cs = append(cs, info("end-to-end p99 at 1k/s vs incumbent (best of issue 16)", "ms", e.Latency.P99, incumbentP99At1kLow, srcIncumbent))
			cs = append(cs, info("end-to-end p99.9 at 1k/s vs Java", "ms", e.Latency.P999, javaE2EP999At1k, srcJava))
			if e.BrokerCPUSeconds >= 0 && e.DispatcherCPUSeconds > 0 {
				cs = append(cs, atMost("CPU per event at 1k/s, both roles + broker, vs incumbent", "µs", e.cpuMicrosPerEvent(), incumbentMicrosPerEvent1k, srcIncumbent, 0.5))
			}
		case 8000:
			if e.DispatcherCPUSeconds > 0 && e.Delivered > 0 {
				roles := round((e.IngressCPUSeconds+e.DispatcherCPUSeconds)/float64(e.Delivered)*1e6, 1)
				cs = append(cs, atMost("CPU per event at 8k/s, both roles (broker not known for the incumbent), vs incumbent at saturation", "µs", roles, round(1e6/incumbentEvPerCPUAtSat, 1), srcIncumbent, 0.5))
				cs = append(cs, info("CPU per event at 8k/s, both roles + broker", "µs", e.cpuMicrosPerEvent(), 0, ""))
			}
		}
	}
	if p := res.Pipeline; p != nil {
		cs = append(cs, atLeast("pipeline saturation vs incumbent", "ev/s", p.SaturationPerSec, incumbentSaturation, srcIncumbent, 1.25))
	}
	if inc := res.Incumbent; inc != nil {
		cs = append(cs, incumbentChecks(res, inc)...)
	}
	if r := res.Reactivity; r != nil {
		cs = append(cs, info("contract change → first delivery (median) vs Java max", "s", r.MedianSeconds, javaContractChangeSeconds, srcJava))
		cs = append(cs, info("start-up → first delivery vs Java", "s", r.StartupSeconds, javaStartupSeconds, srcJava))
	}
	if p := res.Peer; p != nil && res.Ingress != nil {
		cs = append(cs, info("ingress saturation vs Knative IMC (in-memory)", "ev/s", res.Ingress.IngressSaturation(), p.Ladder.SaturationPerSec, srcKnative))
		if p.E2E != nil {
			for _, e := range res.EndToEnd {
				if e.Rate == 1000 {
					cs = append(cs, info("end-to-end p99 at 1k/s vs Knative IMC", "ms", e.Latency.P99, p.E2E.Latency.P99, srcKnative))
				}
			}
		}
	}
	res.Checks = cs
}

func stepAt(steps []Step, rate int) (Step, bool) {
	for _, s := range steps {
		if s.Offered == rate {
			return s, true
		}
	}
	return Step{}, false
}

// incumbentChecks compares scenario 3's figures with the incumbent's measured in the same run,
// against issue 16's targets: half its CPU per event at 1k/s, 1.25× its pipeline saturation.
func incumbentChecks(res *Results, inc *IncumbentResult) []Check {
	var cs []Check
	for _, e := range res.EndToEnd {
		for _, ie := range inc.EndToEnd {
			if ie.Rate != e.Rate || ie.Delivered == 0 {
				continue
			}
			cs = append(cs, info(fmt.Sprintf("end-to-end p99 at %d/s vs incumbent (this run)", e.Rate), "ms", e.Latency.P99, ie.Latency.P99, srcIncumbentHere))
			if e.Rate == 1000 {
				cs = append(cs, atMost("CPU per event at 1k/s, both roles + broker, vs incumbent (this run)", "µs", e.cpuMicrosPerEvent(), ie.cpuMicrosPerEvent(), srcIncumbentHere, 0.5))
			} else {
				cs = append(cs, info(fmt.Sprintf("CPU per event at %d/s, both roles + broker, vs incumbent (this run)", e.Rate), "µs", e.cpuMicrosPerEvent(), ie.cpuMicrosPerEvent(), srcIncumbentHere))
			}
		}
	}
	if p, ip := res.Pipeline, inc.Pipeline; p != nil && ip != nil {
		cs = append(cs, atLeast("pipeline saturation vs incumbent (this run)", "ev/s", p.SaturationPerSec, ip.SaturationPerSec, srcIncumbentHere, 1.25))
	}
	return cs
}
