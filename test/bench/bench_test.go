package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMicroLine(t *testing.T) {
	tests := []struct {
		line string
		want MicroBenchmark
		ok   bool
	}{
		{"BenchmarkEncode-2   	  412345	      2907 ns/op	    1544 B/op	      14 allocs/op",
			MicroBenchmark{Name: "BenchmarkEncode-2", Iterations: 412345, NsPerOp: 2907, BytesPerOp: 1544, AllocsPerOp: 14}, true},
		{"BenchmarkLookup-2 10276750 17.92 ns/op 0 B/op 0 allocs/op 3.5 events/s",
			MicroBenchmark{Name: "BenchmarkLookup-2", Iterations: 10276750, NsPerOp: 17.92, Extra: map[string]float64{"events/s": 3.5}}, true},
		{"PASS", MicroBenchmark{}, false},
		{"ok  	knkafka.dev/data-plane/pkg/routing	0.204s", MicroBenchmark{}, false},
		{"BenchmarkBroken-2 --- FAIL", MicroBenchmark{}, false},
	}
	for _, tt := range tests {
		got, ok := parseMicroLine(tt.line)
		if ok != tt.ok {
			t.Errorf("parseMicroLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseMicroLine(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestEventIDRoundTrips(t *testing.T) {
	for _, c := range []struct {
		phase string
		seq   int
	}{{"d", 0}, {"e2e1000", 12345}, {"fixed-1000-3", 7}} {
		p, s, ok := parseID(eventID(c.phase, c.seq))
		if !ok || p != c.phase || s != c.seq {
			t.Errorf("parseID(eventID(%q, %d)) = %q, %d, %v", c.phase, c.seq, p, s, ok)
		}
	}
	if _, _, ok := parseID("no-number-here-x"); ok {
		t.Error("parseID accepted an id without a sequence number")
	}
}

func TestSummarizeUsesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{Count: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
}

func TestChecksCompareRatiosWithTargets(t *testing.T) {
	pass := func(c Check) bool { return c.Pass != nil && *c.Pass }
	if c := atLeast("x", "ev/s", 8000, 10000, srcCeiling, 0.8); !pass(c) || c.Ratio != 0.8 {
		t.Errorf("8000 vs 10000 at ≥ 0.8: %+v", c)
	}
	if c := atLeast("x", "ev/s", 7999, 10000, srcCeiling, 0.8); pass(c) {
		t.Errorf("7999 vs 10000 at ≥ 0.8 passed: %+v", c)
	}
	if c := atMost("x", "ms", 5, 17, srcJava, 1.0/3); !pass(c) || c.Target != "≤ 0.333" {
		t.Errorf("5 ms vs 17 ms at ≤ 1/3: %+v", c)
	}
	if c := atMost("x", "MiB", 0, 195, srcJava, 0.25); pass(c) {
		t.Errorf("a missing figure (0) passed a ≤ check: %+v", c)
	}
	if c := atLeast("x", "ev/s", 1, 0, srcCeiling, 0.8); c.Pass != nil {
		t.Errorf("a check without reference has a verdict: %+v", c)
	}
}

func TestMarkdownListsEveryCheck(t *testing.T) {
	res := &Results{Profile: profiles["short"], Ingress: &IngressResult{
		Ingress:  Ladder{SaturationPerSec: 9000},
		BareHTTP: Ladder{SaturationPerSec: 10000},
	}}
	res.computeChecks()
	md := Markdown(res)
	for _, c := range res.Checks {
		if !strings.Contains(md, c.Name) {
			t.Errorf("the Markdown misses check %q", c.Name)
		}
	}
	if !strings.Contains(md, "| ingress saturation vs bare HTTP server | 9,000 ev/s | 10,000 |") {
		t.Errorf("the Markdown misses the saturation row:\n%s", md)
	}
}

// With a second ladder each, the saturation check compares the better ladder of the ingress with
// the better ladder of the bare server, and the Markdown names both ladders' figures.
func TestSaturationIsTheBetterOfTwoLadders(t *testing.T) {
	res := &Results{Profile: profiles["short"], Ingress: &IngressResult{
		Ingress:       Ladder{SaturationPerSec: 7000},
		IngressAgain:  &Ladder{SaturationPerSec: 8500},
		BareHTTP:      Ladder{SaturationPerSec: 10000},
		BareHTTPAgain: &Ladder{SaturationPerSec: 9000},
	}}
	res.computeChecks()
	md := Markdown(res)
	if !strings.Contains(md, "| ingress saturation vs bare HTTP server | 8,500 ev/s | 10,000 |") {
		t.Errorf("the check does not compare the better ladders (8,500 of the ingress, 10,000 of the bare server):\n%s", md)
	}
	for _, want := range []string{"**10,000 ev/s** (better of two ladders: 10,000 and 9,000)", "**8,500 ev/s** (better of two ladders: 7,000 and 8,500)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown misses %q", want)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1.234: "1.23", 12.34: "12.3", 123.4: "123", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSourceIDsMapToDistinctSequences(t *testing.T) {
	seen := map[int]bool{}
	for p := range partitions {
		for o := range 5 {
			phase, seq, ok := parseID(fmt.Sprintf("partition:%d/offset:%d", p, o))
			if !ok || phase != sourcePhase || seen[seq] {
				t.Fatalf("partition %d offset %d: phase %q seq %d ok %v (seen %v)", p, o, phase, seq, ok, seen[seq])
			}
			seen[seq] = true
		}
	}
	for _, bad := range []string{"partition:x/offset:1", "partition:1/offset:", fmt.Sprintf("partition:%d/offset:0", partitions)} {
		if _, _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted a malformed source id", bad)
		}
	}
}
