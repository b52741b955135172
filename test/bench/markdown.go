package bench

import (
	"fmt"
	"sort"
	"strings"
)

// Rendered is a run's human-readable output: the Markdown report and the plots by name.
type Rendered struct {
	Markdown string
	Plots    map[string][]byte
}

// Markdown renders the results as the tables docs/benchmarks.md shows.
func Markdown(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	w("# knkafka benchmarks — %s profile, %s\n\n", res.Profile.Name, res.StartedAt.Format("2006-01-02 15:04 UTC"))
	w("Machine: %d × %s, %.1f GiB, kernel %s, %s. Kafka %s (%d node, 127.0.0.1). Commit %s", m.CPUs, m.Model,
		m.MemoryGiB, m.Kernel, m.GoVersion, res.Kafka.Version, res.Kafka.Nodes, short(res.Git.Commit))
	if res.Git.Dirty > 0 {
		w(" + %d changed files", res.Git.Dirty)
	}
	w(". Load average %.2f before, %.2f after; %s. Wall time %.0f s.\n\n", m.LoadAvgStart[0], m.LoadAvgEnd[0], m.LoadNote, res.WallSeconds)

	w("## Against the bar\n\n| figure | knkafka | reference | reference from | ratio | target | |\n|---|---:|---:|---|---:|---|---|\n")
	for _, c := range res.Checks {
		ok := ""
		if c.Pass != nil {
			ok = map[bool]string{true: "✅", false: "❌"}[*c.Pass]
		}
		ref, ratio := num(c.Reference), fmt.Sprintf("%.2f×", c.Ratio)
		if c.Reference == 0 {
			ref, ratio = "–", ""
		}
		w("| %s | %s %s | %s | %s | %s | %s | %s |\n", c.Name, num(c.Value), c.Unit, ref, c.RefSource, ratio, c.Target, ok)
	}
	w("\n")

	if in := res.Ingress; in != nil {
		w("## 1. Ingress (1 KiB binary-mode CloudEvents, keep-alive, open-loop vegeta)\n\n")
		w("Ceilings: franz-go produce (acks=all) **%s rec/s**; at 1k rec/s one by one, ack p50 %.2f ms, p99 %.2f ms. "+
			"Bare net/http 202 server: **%s ev/s**%s. knkafka ingress: **%s ev/s**%s. Memory idle %.1f MiB, peak under load %.1f MiB.\n\n",
			num(in.ProduceCeiling.RecordsPerSec), in.ProduceAt1k.AckLatency.P50, in.ProduceAt1k.AckLatency.P99,
			num(in.BareSaturation()), ladders(in.BareHTTP, in.BareHTTPAgain), num(in.IngressSaturation()), ladders(in.Ingress, in.IngressAgain),
			in.IdleMemory.RSSMiB, in.LoadMemory.PeakMiB)
		w("| target | offered/s | accepted/s | ok %% | p50 ms | p99 ms | p99.9 ms | ev/CPU-s | broker CPU s | ev/CPU-s incl. broker | RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		steps := func(name string, ss []Step) {
			for _, s := range ss {
				rss := ""
				if s.Memory != nil {
					rss = fmt.Sprintf("%.1f", s.Memory.RSSMiB)
				}
				broker := "–"
				if s.EventsPerCPUSecondInclBroker > 0 {
					broker = cpuOrDash(s.BrokerCPUSeconds)
				}
				w("| %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s |\n", name, s.Offered, num(s.AcceptedPerSec), s.SuccessPct,
					s.Latency.P50, s.Latency.P99, s.Latency.P999, num(s.EventsPerCPUSecond), broker, orDash(s.EventsPerCPUSecondInclBroker), rss)
			}
		}
		steps("ingress (fixed)", in.Fixed)
		steps("bare HTTP (fixed)", in.BareHTTPFixed)
		steps("ingress", in.Ingress.Steps)
		steps("bare HTTP", in.BareHTTP.Steps)
		if in.BareHTTPAgain != nil {
			steps("bare HTTP, again", in.BareHTTPAgain.Steps)
		}
		if in.IngressAgain != nil {
			steps("ingress, again", in.IngressAgain.Steps)
		}
		if p := res.Peer; p != nil {
			steps("Knative IMC", p.Ladder.Steps)
		}
		w("\n")
	}
	if d := res.Dispatcher; d != nil {
		w("## 2. Dispatcher: drain a backlog of %d events (%d partitions, %d keys, in-flight %d)\n\n", d.Events, d.Partitions, d.Keys, d.MaxInFlight)
		w("Ceilings: franz-go consume without delivery **%s rec/s**; bare Go HTTP client (concurrency %d) to the same subscriber **%s ev/s** (%s ev/CPU-s) through net/http's Transport, "+
			"**%s ev/s** (%s ev/CPU-s) through the dispatcher's own (h1transport). Dispatcher memory idle %.1f MiB, peak %.1f MiB.\n\n",
			num(d.ConsumeCeiling.RecordsPerSec), d.MaxInFlight, num(d.BareClient.PerSec), num(d.BareClient.EventsPerCPUSecond),
			num(d.BareClientH1.PerSec), num(d.BareClientH1.EventsPerCPUSecond), d.IdleMemory.RSSMiB, d.LoadMemory.PeakMiB)
		w("| order | delivered | duplicates | ev/s | vs bare client | vs bare client, same transport | contract → first delivery s | CPU s | ev/CPU-s | broker CPU s | ev/CPU-s incl. broker | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, m := range d.Modes {
			ratio, ratioH1 := 0.0, 0.0
			if d.BareClient.PerSec > 0 {
				ratio = m.PerSec / d.BareClient.PerSec
			}
			if d.BareClientH1.PerSec > 0 {
				ratioH1 = m.PerSec / d.BareClientH1.PerSec
			}
			broker := "–"
			if m.EventsPerCPUSecondInclBroker > 0 {
				broker = cpuOrDash(m.BrokerCPUSeconds)
			}
			w("| %s | %d | %d | %s | %.2f× | %.2f× | %.2f | %.1f | %s | %s | %s | %s |\n", m.Name, m.Unique, m.Duplicates, num(m.PerSec), ratio, ratioH1,
				m.FirstArrivalSeconds, m.CPUSeconds, num(m.EventsPerCPUSecond), broker, orDash(m.EventsPerCPUSecondInclBroker), m.Error)
		}
		w("\n")
	}
	if len(res.EndToEnd) > 0 || res.Pipeline != nil || (res.Peer != nil && res.Peer.E2E != nil) || res.Incumbent != nil {
		endToEndMarkdown(w, res)
	}
	if len(res.FanOut) > 0 {
		w("## 4. Fan-out: one broker, N triggers each filtering on one of %d event types, draining a backlog\n\n", fanOutTypes)
		w("Each step launches a dispatcher on an empty topic and measures it idle once every trigger is Ready (all ready s: launch → every trigger Ready), stops it, writes the backlog, and launches a second dispatcher that drains it. "+
			"The dispatcher reads the topic once through a shared reader that feeds every trigger's lane (each lane commits under its own consumer group), so bytes fetched and connections should not grow with N; --separate-reads gives every trigger its own consumer, as Knative's Kafka broker does. "+
			"The backlog shrinks for large N so that at most %s records are read in all, and grows for small N so that a step makes at least %s deliveries; bytes fetched are compared with the 1-trigger step's per backlog event. "+
			"The bare client posts as many events to the same subscriber with the in-flight limit as its concurrency. "+
			"Dispatcher CPU is the draining dispatcher's whole life (start-up included); broker CPU is the Kafka JVM's from that launch to the last delivery (group joins included).\n\n", num(maxFanOutReads), num(float64(res.Profile.FanOutMinDeliveries)))
		w("| triggers | backlog | deliveries | all ready s | delivered/s | vs bare client | RSS idle / peak MiB | connections idle / peak | detaches / rejoins | bytes fetched | vs 1 trigger | dispatcher CPU s | broker CPU s | deliveries/CPU-s incl. broker | note |\n" +
			"|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, f := range res.FanOut {
			w("| %d | %d | %d/%d | %.1f | %s | %.2f× | %.1f / %.1f | %d / %d | %d / %d | %s | %.2f× | %.1f | %s | %s | %s |\n", f.Triggers, f.Events, f.Delivered, f.ExpectedDeliveries,
				f.AllReadySeconds, num(f.DeliveredPerSec), f.VsBareClient, f.IdleRSSMiB, f.PeakRSSMiB, f.IdleConns, f.PeakConns, f.Detaches, f.Rejoins,
				bytesMiB(f.BytesFetched), f.BytesFetchedVsOne, f.CPUSeconds, cpuOrDash(f.BrokerCPUSeconds), orDash(f.DeliveriesPerCPUSecondInclBroker), f.Error)
		}
		w("\n")
	}
	if f := res.Footprint; f != nil {
		w("## 5. Footprint (RSS MiB; Java peer from the notes)\n\n| process | idle, 0 triggers | idle, %d triggers | under load (peak) | Java idle | Java under load |\n|---|---:|---:|---:|---:|---:|\n", f.Triggers)
		w("| ingress | %s | %s | %s | %.0f | %.0f |\n", rss(f.IngressIdle0, false), rss(f.IngressIdleN, false), rss(f.IngressLoad, true), javaIngressIdleMiB, javaIngressLoadMiB)
		w("| dispatcher | %s | %s | %s | %.0f | %.0f |\n\n", rss(f.DispatcherIdle0, false), rss(f.DispatcherIdleN, false), rss(f.DispatcherLoad, true), javaDispatcherIdleMiB, javaDispatcherLoadMiB)
		if f.DispatcherIdleN != nil {
			w("The dispatcher with %d idle triggers was ready %.1f s after launch and then used %.2f cores doing nothing.\n\n", f.Triggers, f.DispatcherReadySeconds, f.DispatcherIdleCores)
		}
	}
	if r := res.Reactivity; r != nil {
		w("## 6. Reactivity (events flowing at %d/s)\n\nLaunch → first delivery: **%.2f s** (Java peer: 8–9 s). Contract change adding an egress → its first delivery: median **%.3f s** of %v (Java peer: 0.2–0.45 s).\n\n",
			r.ProduceRate, r.StartupSeconds, r.MedianSeconds, r.ChangeSeconds)
	}
	if m := res.ManyBrokers; m != nil {
		w("## 7. Many brokers: %d Brokers × %d Triggers (%d partitions each), idle\n\n", m.Brokers, m.Triggers/max(m.Brokers, 1), m.Partitions)
		if m.Error != "" {
			w("Failed: %s\n\n", m.Error)
		} else {
			w("All %d Triggers Ready %.1f s after launch; RSS idle %.1f MiB (peak %.1f); %.3f cores idle; %d connections to Kafka. The contract is %d bytes of JSON, published as %d shard(s) of %d bytes in all.\n\n",
				m.Triggers, m.ReadySeconds, m.IdleRSSMiB, m.PeakRSSMiB, m.IdleCores, m.Conns, m.ContractJSONBytes, m.Shards, m.PublicationBytes)
		}
	}
	if p := res.Peer; p != nil {
		w("## 8. Peer: %s\n\n%s. Saturation %s ev/s; memory idle %.1f MiB, peak %.1f MiB.\n\n", p.Name, p.Note, num(p.Ladder.SaturationPerSec), p.IdleMemory.RSSMiB, p.LoadMemory.PeakMiB)
	}
	if len(res.Micro) > 0 {
		w("## Micro-benchmarks (`go test -bench`)\n\n| package | benchmark | ns/op | B/op | allocs/op |\n|---|---|---:|---:|---:|\n")
		for _, mb := range res.Micro {
			w("| %s | %s | %s | %.0f | %.0f |\n", strings.TrimPrefix(mb.Package, "knkafka.dev/"), mb.Name, num(mb.NsPerOp), mb.BytesPerOp, mb.AllocsPerOp)
		}
		w("\n")
	}
	if len(res.Notes) > 0 {
		w("## Notes\n\n")
		for _, n := range res.Notes {
			w("- %s\n", n)
		}
		w("\n")
	}
	if len(res.Errors) > 0 {
		w("## Errors\n\n")
		for _, e := range res.Errors {
			w("- %s\n", strings.ReplaceAll(e, "\n", " "))
		}
		w("\n")
	}
	return b.String()
}

func rss(m *Memory, peak bool) string {
	if m == nil {
		return "–"
	}
	if peak {
		return fmt.Sprintf("%.1f", m.PeakMiB)
	}
	return fmt.Sprintf("%.1f", m.RSSMiB)
}

// bytesMiB shows a byte count in MiB, or a dash when unknown.
func bytesMiB(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// cpuOrDash shows CPU seconds, or a dash when unknown (negative).
func cpuOrDash(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func orDash(v float64) string {
	if v == 0 {
		return "–"
	}
	return num(v)
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// num formats a figure with thousands separators and sensible precision.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v <= -1000:
		s := fmt.Sprintf("%.0f", v)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var out []byte
		for i, c := range []byte(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, ',')
			}
			out = append(out, c)
		}
		if neg {
			return "-" + string(out)
		}
		return string(out)
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// requestKeys orders the Kafka API keys of the request tables: the data path's first, then the
// rest by name.
var requestKeys = []string{"Produce", "Fetch", "OffsetCommit", "Heartbeat", "Metadata", "ListOffsets", "OffsetFetch", "FindCoordinator", "JoinGroup", "SyncGroup", "InitProducerId", "ApiVersions"}

// endToEndMarkdown renders scenario 3: the fixed rates with CPU per event (both roles and the
// broker) next to the incumbent's figures from issue 16, the requests the broker received per
// event by API key, and the pipeline ladder.
func endToEndMarkdown(w func(string, ...any), res *Results) {
	w("## 3. End to end (ingress process → Kafka → dispatcher process → subscriber)\n\n")
	w("CPU is each process's over the run (sending, then waiting for the last delivery and 1 s more); µs/event divides the CPU of both roles and the Kafka broker by the events delivered; cores are that CPU per event at the run's rate. " +
		"The rows marked \"issue 16, another run\" are issue 16's table (Knative's Kafka broker, Java receiver + dispatcher, same machine kind and criterion), **not measured in this run**; " +
		"the rows marked \"incumbent, this run\" are that data plane measured in this run (the opt-in incumbent scenario: same Kafka, loader, subscriber, warm-up and rates).\n\n")
	if inc := res.Incumbent; inc != nil {
		w("Incumbent, this run: %s, built from %s; ready %.1f s after launch; %s.\n\n", inc.Name, inc.Source, inc.ReadySeconds, inc.Note)
	}
	w("| path | rate/s | accepted | lost | duplicates | p50 ms | p99 ms | p99.9 ms | max ms | ingress p99 ms | CPU s: ingress + dispatcher + broker | cores: ingress + dispatcher + broker = total | µs/event, all three |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, e E2EResult) {
		cpu, cores, per := "–", "–", "–"
		if e.DispatcherCPUSeconds > 0 {
			cpu = fmt.Sprintf("%.2f + %.2f + %s", e.IngressCPUSeconds, e.DispatcherCPUSeconds, cpuOrDash(e.BrokerCPUSeconds))
			cores = fmt.Sprintf("%.2f + %.2f + %.2f = **%.2f**", e.cores(e.IngressCPUSeconds), e.cores(e.DispatcherCPUSeconds), e.cores(max(e.BrokerCPUSeconds, 0)), e.cores(e.cpuSeconds()))
			per = num(e.cpuMicrosPerEvent())
		}
		w("| %s | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n", name, e.Rate, e.Accepted, e.Lost, e.Duplicates,
			e.Latency.P50, e.Latency.P99, e.Latency.P999, e.Latency.Max, e.IngressLatency.P99, cpu, cores, per)
	}
	for _, e := range res.EndToEnd {
		row("knkafka", e)
	}
	if res.Peer != nil && res.Peer.E2E != nil {
		row("Knative IMC (in memory)", *res.Peer.E2E)
	}
	if inc := res.Incumbent; inc != nil {
		for _, e := range inc.EndToEnd {
			row("incumbent, this run", e)
		}
	}
	w("| incumbent (issue 16, another run) | 1000 | | 0 | | | %.1f–%.1f | | | | | %.2f + %.2f + %.2f = **%.2f** | %s |\n",
		incumbentP99At1kLow, incumbentP99At1kHigh, incumbentIngressCores1k, incumbentDispatcherCores1, incumbentBrokerCores1k,
		incumbentIngressCores1k+incumbentDispatcherCores1+incumbentBrokerCores1k, num(incumbentMicrosPerEvent1k))
	w("| incumbent at saturation (issue 16, another run) | 10000 | | | | | | | | | | both roles: 11.7k–12.4k ev/CPU-s (%s µs/event), broker unknown | |\n", num(round(1e6/incumbentEvPerCPUAtSat, 1)))
	w("| goal (issue 16) | 1000 | | 0 | | | ≤ %.0f | | | | | ≤ %.3f total | ≤ %s |\n\n", pipelineP99Goal,
		(incumbentIngressCores1k+incumbentDispatcherCores1+incumbentBrokerCores1k)/2, num(incumbentMicrosPerEvent1k/2))

	var runs []E2EResult
	var names []string
	// withRequests adds the runs of one pipeline whose broker requests were counted.
	withRequests := func(prefix string, fixed []E2EResult, p *PipelineResult) {
		for _, e := range fixed {
			if e.KafkaRequests != nil {
				runs, names = append(runs, e), append(names, fmt.Sprintf("%s%d/s", prefix, e.Rate))
			}
		}
		if p == nil {
			return
		}
		for _, e := range p.Steps {
			if e.KafkaRequests != nil {
				runs, names = append(runs, e), append(names, fmt.Sprintf("%sladder %d/s", prefix, e.Rate))
			}
		}
	}
	withRequests("", res.EndToEnd, res.Pipeline)
	if inc := res.Incumbent; inc != nil {
		withRequests("incumbent ", inc.EndToEnd, inc.Pipeline)
	}
	if len(runs) > 0 {
		w("Requests the Kafka broker received per delivered event, by API key (its RequestMetrics RequestsPerSec counts before and after each run; both roles, plus the broker's own controller traffic):\n\n")
		keys := slicesOrdered(runs)
		w("| run |")
		for _, k := range keys {
			w(" %s |", k)
		}
		w(" all |\n|---|")
		for range keys {
			w("---:|")
		}
		w("---:|\n")
		for i, e := range runs {
			w("| %s |", names[i])
			var all int64
			for _, k := range keys {
				all += e.KafkaRequests[k]
				w(" %s |", perEvent(e.KafkaRequests[k], e.Delivered))
			}
			w(" %s |\n", perEvent(all, e.Delivered))
		}
		w("\n")
	}
	if p := res.Pipeline; p != nil {
		ic := p.IdleCores
		w("Idle, with nothing sent (measured before the fixed rates): ingress %.3f, dispatcher %.3f, broker %s cores — part of every figure above, %s µs per event at 1,000 ev/s.\n\n",
			ic.Ingress, ic.Dispatcher, cpuOrDash(ic.Broker), num(round((ic.Ingress+ic.Dispatcher+max(ic.Broker, 0))*1e6/1000, 1)))
		w("Pipeline ladder: rising rates through both roles; a step passes when ≥ %.0f %% of the events sent are accepted, all of them delivered, and the end-to-end p99 is ≤ %.0f ms (issue 16's criterion). "+
			"**Saturation %s ev/s** (the incumbent's in issue 16, another run: %s ev/s; goal ≥ %s).\n\n",
			pipelineMinAccepted*100, pipelineMaxP99, num(p.SaturationPerSec), num(incumbentSaturation), num(1.25*incumbentSaturation))
		ladderMarkdown(w, p)
	}
	if inc := res.Incumbent; inc != nil && inc.Pipeline != nil {
		p := inc.Pipeline
		ic := p.IdleCores
		w("Incumbent, this run — idle (before its fixed rates): receiver %.3f, dispatcher %.3f, broker %s cores. Its pipeline ladder, same criterion: **saturation %s ev/s**.\n\n",
			ic.Ingress, ic.Dispatcher, cpuOrDash(ic.Broker), num(p.SaturationPerSec))
		ladderMarkdown(w, p)
	}
}

// ladderMarkdown renders the steps of a pipeline ladder.
func ladderMarkdown(w func(string, ...any), p *PipelineResult) {
	w("| rate/s | passed | sent | accepted | lost | duplicates | p50 ms | p99 ms | ingress p99 ms | cores: ingress + dispatcher + broker = total | µs/event, all three | events per CPU-s, both roles |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range p.Steps {
		roles := 0.0
		if e.IngressCPUSeconds+e.DispatcherCPUSeconds > 0 {
			roles = perSecond(float64(e.Delivered), e.IngressCPUSeconds+e.DispatcherCPUSeconds)
		}
		w("| %d | %s | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f + %.2f + %.2f = **%.2f** | %s | %s |\n", e.Rate, map[bool]string{true: "✅", false: "❌"}[e.Passed],
			e.Sent, e.Accepted, e.Lost, e.Duplicates, e.Latency.P50, e.Latency.P99, e.IngressLatency.P99,
			e.cores(e.IngressCPUSeconds), e.cores(e.DispatcherCPUSeconds), e.cores(max(e.BrokerCPUSeconds, 0)), e.cores(e.cpuSeconds()),
			num(e.cpuMicrosPerEvent()), orDash(roles))
	}
	w("\n")
}

// slicesOrdered lists the API keys seen in any run: requestKeys' order first, then the rest by name.
func slicesOrdered(runs []E2EResult) []string {
	seen := map[string]bool{}
	for _, e := range runs {
		for k := range e.KafkaRequests {
			seen[k] = true
		}
	}
	var out []string
	for _, k := range requestKeys {
		if seen[k] {
			out = append(out, k)
			delete(seen, k)
		}
	}
	rest := make([]string, 0, len(seen))
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// perEvent shows n per event, with enough precision for counts far below one per event.
func perEvent(n, events int64) string {
	if events <= 0 {
		return "–"
	}
	v := float64(n) / float64(events)
	switch {
	case n == 0:
		return "0"
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// ladders names the saturation of each of a target's two ladders (empty with one), in the order run.
func ladders(first Ladder, again *Ladder) string {
	if again == nil {
		return ""
	}
	return fmt.Sprintf(" (better of two ladders: %s and %s)", num(first.SaturationPerSec), num(again.SaturationPerSec))
}
