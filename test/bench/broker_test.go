package bench

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseJmxCountReadsTheCountBeforeTheToolsNotice(t *testing.T) {
	out := "time=1796423520683\n" + bytesOutMetric + ":Count=329495Trying to connect to JMX url: service:jmx:rmi:///jndi/rmi://127.0.0.1:1/jmxrmi\n"
	got, err := parseJmxCount(out)
	if err != nil || got != 329495 {
		t.Fatalf("parseJmxCount = %d, %v; want 329495", got, err)
	}
	if _, err := parseJmxCount("time=1\nother:Count=5\n"); err == nil {
		t.Fatal("parseJmxCount found a count of another metric")
	}
}

func TestBrokerPidsReadsEveryNode(t *testing.T) {
	dir := t.TempDir()
	for i, pid := range []string{"101\n", "202\n"} {
		node := filepath.Join(dir, "node-"+strconv.Itoa(i+1))
		if err := os.MkdirAll(node, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(node, "pid"), []byte(pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pids, err := brokerPids(dir)
	if err != nil || len(pids) != 2 || pids[0] != 101 || pids[1] != 202 {
		t.Fatalf("brokerPids = %v, %v; want [101 202]", pids, err)
	}
	if _, err := brokerPids(t.TempDir()); err == nil {
		t.Fatal("brokerPids found pids in an empty directory")
	}
}

// TestKafkaConnsCountsThisProcesssConnectionsToAPort opens real connections from this process
// and counts them the way the fan-out counts the dispatcher's connections to Kafka.
func TestKafkaConnsCountsThisProcesssConnectionsToAPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ports := map[int]bool{port: true}
	count := func() int {
		n, err := kafkaConns(os.Getpid(), ports)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d connections before dialling; want 0", n)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The accepted ends are this process's too, but their remote port is the dialler's.
	if n := count(); n != 3 {
		t.Fatalf("%d connections to port %d; want 3", n, port)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted after closing them all", count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMarkdownShowsTheFanOutFiguresAndUnknownBrokerCPU(t *testing.T) {
	res := &Results{FanOut: []FanOutResult{
		{Triggers: 1, Events: 5000, ExpectedDeliveries: 5000, Delivered: 5000, BytesFetched: 3 << 20, BytesFetchedVsOne: 1,
			IdleConns: 4, PeakConns: 5, Detaches: 12, Rejoins: 11, IdleRSSMiB: 31, PeakRSSMiB: 54, BrokerCPUSeconds: 0.25, CPUSeconds: 0.5, DeliveriesPerCPUSecondInclBroker: 6667},
		{Triggers: 10, Events: 5000, ExpectedDeliveries: 5000, Delivered: 5000, BrokerCPUSeconds: -1},
	}}
	md := Markdown(res)
	for _, want := range []string{
		"| 1 | 5000 | 5000/5000 | 0.0 | 0 | 0.00× | 31.0 / 54.0 | 4 / 5 | 12 / 11 | 3.0 MiB | 1.00× | 0.5 | 0.25 | 6,667 |  |",
		"| 10 | 5000 | 5000/5000 | 0.0 | 0 | 0.00× | 0.0 / 0.0 | 0 / 0 | 0 / 0 | – | 0.00× | 0.0 | – | – |  |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks the row\n%s\nin\n%s", want, md)
		}
	}
}

func TestRequestCountsSumVersionsByAPIKey(t *testing.T) {
	out := "Trying to connect to JMX url: service:jmx:rmi:///jndi/rmi://127.0.0.1:1/jmxrmi\ntime=1796436680979\n" +
		requestsMetric + ",request=Fetch,version=16:Count=100\n" +
		requestsMetric + ",request=Fetch,version=12:Count=5\n" +
		requestsMetric + ",request=FetchConsumer,version=16:Count=100\n" +
		requestsMetric + ",request=Produce,version=11:Count=42Trying to connect\n" +
		bytesOutMetric + ":Count=7\n"
	counts, err := parseJmxCounts(out)
	if err != nil {
		t.Fatal(err)
	}
	got := requestsByKey(counts)
	if len(got) != 2 || got["Fetch"] != 105 || got["Produce"] != 42 {
		t.Fatalf("requestsByKey = %v; want Fetch 105, Produce 42", got)
	}
	d := requestDelta(map[string]int64{"Fetch": 100, "Produce": 42}, map[string]int64{"Fetch": 150, "Produce": 42, "Metadata": 2})
	if len(d) != 2 || d["Fetch"] != 50 || d["Metadata"] != 2 {
		t.Fatalf("requestDelta = %v; want Fetch 50, Metadata 2", d)
	}
}

func TestPipelinePassedNeedsEveryCondition(t *testing.T) {
	ok := E2EResult{Sent: 1000, Accepted: 995, Delivered: 995, Latency: Latency{Count: 995, P99: 50}}
	if !pipelinePassed(ok) {
		t.Fatal("a step with 99.5 % accepted, none lost and p99 50 ms did not pass")
	}
	for name, e := range map[string]E2EResult{
		"too few accepted": {Sent: 1000, Accepted: 980, Delivered: 980, Latency: Latency{Count: 980, P99: 50}},
		"lost":             {Sent: 1000, Accepted: 1000, Delivered: 999, Lost: 1, Latency: Latency{Count: 999, P99: 50}},
		"slow":             {Sent: 1000, Accepted: 1000, Delivered: 1000, Latency: Latency{Count: 1000, P99: 101}},
		"nothing":          {},
	} {
		if pipelinePassed(e) {
			t.Errorf("%s: passed", name)
		}
	}
}

func TestPipelineChecksAndTablesUseAllThreeProcesses(t *testing.T) {
	e1k := E2EResult{Rate: 1000, Sent: 20000, Accepted: 20000, Delivered: 20000, Latency: Latency{Count: 20000, P99: 2.5},
		IngressCPUSeconds: 2, DispatcherCPUSeconds: 2, BrokerCPUSeconds: 3, KafkaRequests: map[string]int64{"Produce": 19800, "Fetch": 18000, "Zeta": 2}}
	res := &Results{EndToEnd: []E2EResult{e1k}, Pipeline: &PipelineResult{SaturationPerSec: 12500, Steps: []E2EResult{e1k}}}
	res.computeChecks()
	found := map[string]Check{}
	for _, c := range res.Checks {
		found[c.Name] = c
	}
	// (2 + 2 + 3) CPU-s over 20,000 events is 350 µs, under half the incumbent's 750.
	cpu := found["CPU per event at 1k/s, both roles + broker, vs incumbent"]
	if cpu.Value != 350 || cpu.Pass == nil || !*cpu.Pass {
		t.Errorf("CPU check = %+v; want 350 µs, passing", cpu)
	}
	if c := found["pipeline saturation vs incumbent"]; c.Pass == nil || !*c.Pass || c.RefSource != srcIncumbent {
		t.Errorf("saturation check = %+v; want passing against the incumbent", c)
	}
	if c := found["end-to-end p99 at 1k/s vs goal (issue 16)"]; c.Pass == nil || !*c.Pass {
		t.Errorf("p99 check = %+v; want passing", c)
	}
	md := Markdown(res)
	for _, want := range []string{
		"0.10 + 0.10 + 0.15 = **0.35**",                // cores at 1k ev/s
		"| 1000/s | 0.99 | 0.90 | 0.0001 | 1.89 |",     // requests per event: known keys first, then the rest
		"| incumbent (issue 16, another run) | 1000 |", // the reference row, labelled
		"**Saturation 12,500 ev/s**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseCounter(t *testing.T) {
	const text = `# HELP knkafka_dispatcher_lane_catch_ups_total Partitions of an egress that left a shared reader.
# TYPE knkafka_dispatcher_lane_catch_ups_total counter
knkafka_dispatcher_lane_catch_ups_total{event="detach"} 12
knkafka_dispatcher_lane_catch_ups_total{event="rejoin"} 7
knkafka_dispatcher_lane_catch_ups_totals{event="detach"} 99
knkafka_dispatcher_shared_readers 1
`
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"knkafka_dispatcher_lane_catch_ups_total", `event="detach"`, 12},
		{"knkafka_dispatcher_lane_catch_ups_total", `event="rejoin"`, 7},
		{"knkafka_dispatcher_shared_readers", "", 1},
		{"knkafka_dispatcher_lane_catch_ups_total", `event="other"`, 0},
	} {
		got, err := parseCounter(strings.NewReader(text), c.name, c.labels)
		if err != nil || got != c.want {
			t.Errorf("parseCounter(%s{%s}) = %v, %v; want %v", c.name, c.labels, got, err, c.want)
		}
	}
}

func TestFanOutBacklog(t *testing.T) {
	for _, c := range []struct{ events, minDeliveries, n, want int }{
		{5000, 50000, 1, 50000},   // one trigger takes every event
		{5000, 50000, 10, 50000},  // ten triggers: each event reaches one
		{5000, 50000, 100, 5000},  // a hundred: each event reaches ten
		{5000, 50000, 1000, 2000}, // capped by maxFanOutReads
		{1000, 0, 10, 1000},       // no minimum
		{5000, 50005, 1, 50000},   // a multiple of fanOutTypes
	} {
		if got := fanOutBacklog(c.events, c.minDeliveries, c.n); got != c.want {
			t.Errorf("fanOutBacklog(%d, %d, %d) = %d, want %d", c.events, c.minDeliveries, c.n, got, c.want)
		}
	}
}
