package bench

import (
	"strings"
	"testing"
)

func TestScenarioOrderSkipsOptInUnlessNamedAndFollowsTheNames(t *testing.T) {
	all := []scenario{{name: "ingress"}, {name: "e2e"}, {name: "peer"}, {name: "incumbent", optIn: true}}
	names := func(ss []scenario) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		list []string
		want string
	}{
		{nil, "ingress,e2e,peer"},
		{[]string{"e2e", "incumbent"}, "e2e,incumbent"},
		{[]string{"incumbent", "e2e"}, "incumbent,e2e"},
		{[]string{"peer", " ingress", "peer"}, "peer,ingress"},
	} {
		got, err := order(all, c.list)
		if err != nil || names(got) != c.want {
			t.Errorf("order(%v) = %q, %v; want %q", c.list, names(got), err, c.want)
		}
	}
	if _, err := order(all, []string{"e2e", "incumbnet"}); err == nil || !strings.Contains(err.Error(), "incumbnet") {
		t.Errorf("order with a misspelt name: err = %v, want one naming it", err)
	}
}

func TestIncumbentMeasuredInTheRunIsComparedAndShown(t *testing.T) {
	ours := E2EResult{Rate: 1000, Sent: 20000, Accepted: 20000, Delivered: 20000, Latency: Latency{Count: 20000, P99: 2.5},
		IngressCPUSeconds: 2, DispatcherCPUSeconds: 2, BrokerCPUSeconds: 3}
	theirs := E2EResult{Rate: 1000, Sent: 20000, Accepted: 20000, Delivered: 20000, Latency: Latency{Count: 20000, P99: 5},
		IngressCPUSeconds: 5, DispatcherCPUSeconds: 6, BrokerCPUSeconds: 5, KafkaRequests: map[string]int64{"Produce": 4000}}
	ladder := E2EResult{Rate: 8000, Sent: 40000, Accepted: 40000, Delivered: 40000, Latency: Latency{Count: 40000, P99: 40}, Passed: true,
		IngressCPUSeconds: 4, DispatcherCPUSeconds: 4, BrokerCPUSeconds: 2}
	res := &Results{
		EndToEnd: []E2EResult{ours},
		Pipeline: &PipelineResult{SaturationPerSec: 12000},
		Incumbent: &IncumbentResult{Name: "the incumbent", Source: "knative-v1.23.0 abc", EndToEnd: []E2EResult{theirs},
			Pipeline: &PipelineResult{SaturationPerSec: 8000, Steps: []E2EResult{ladder}}},
	}
	res.computeChecks()
	found := map[string]Check{}
	for _, c := range res.Checks {
		found[c.Name] = c
	}
	// Ours: 7 CPU-s / 20,000 events = 350 µs; theirs 16 / 20,000 = 800 µs: 0.44×, under the 0.5 target.
	if c := found["CPU per event at 1k/s, both roles + broker, vs incumbent (this run)"]; c.Value != 350 || c.Reference != 800 ||
		c.RefSource != srcIncumbentHere || c.Pass == nil || !*c.Pass {
		t.Errorf("CPU check = %+v; want 350 against 800 µs, passing", c)
	}
	// 12,000 is 1.5× 8,000.
	if c := found["pipeline saturation vs incumbent (this run)"]; c.Ratio != 1.5 || c.Pass == nil || !*c.Pass {
		t.Errorf("saturation check = %+v; want 1.5×, passing", c)
	}
	if c := found["end-to-end p99 at 1000/s vs incumbent (this run)"]; c.Value != 2.5 || c.Reference != 5 {
		t.Errorf("p99 check = %+v; want 2.5 against 5 ms", c)
	}
	md := Markdown(res)
	for _, want := range []string{
		"| incumbent, this run | 1000 | 20000 | 0 | 0 | 0.00 | 5.00 |", // its fixed-rate row
		"0.25 + 0.30 + 0.25 = **0.80**",                                // its cores at 1k ev/s
		"| incumbent 1000/s | 0.20 |",                                  // its requests per event
		"saturation 8,000 ev/s",                                        // its ladder
		"| 8000 | ✅ | 40000 |",
		"built from knative-v1.23.0 abc",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}
