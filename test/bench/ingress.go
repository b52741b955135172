package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

const partitions = 10

// ingressProfileRate is the rate of scenario 1's profiled step (BENCH_PPROF): near the ingress's
// saturation on the 2-core machine, below the bare server's.
const ingressProfileRate = 20000

// brokerResource is one broker on topic with an ingress path and the given egresses.
func (r *runner) brokerResource(uid, topic string, ingress bool, egresses ...contract.Egress) contract.Resource {
	res := contract.Resource{UID: uid, Kind: contract.KindBroker, Namespace: "bench", Name: uid,
		Topic: topic, BootstrapServers: r.kafka.servers, Egresses: egresses}
	if ingress {
		res.Ingress = &contract.Ingress{Path: "/bench/" + uid}
	}
	return res
}

// egress is an egress of the benchmarks: no retries to speak of, replies discarded.
func (r *runner) egress(uid, group, dest string, order contract.DeliveryOrder, filter *contract.Filter) contract.Egress {
	return contract.Egress{UID: uid, Kind: contract.KindTrigger, Namespace: "bench", Name: uid,
		ConsumerGroup: group, Destination: dest, Reply: contract.Reply{Kind: contract.ReplyDiscard},
		Delivery: contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(100 * time.Millisecond)},
		Order:    order, MaxInFlight: r.profile.MaxInFlight, Filter: filter}
}

func (r *runner) contractFile(name string) string { return filepath.Join(r.work, name+".json") }

// ingress is scenario 1: the ingress's saturation, latency at fixed rates, CPU and memory,
// next to franz-go producing the same records and a bare HTTP server under the same load.
func (r *runner) ingress(ctx context.Context) error {
	topic := "bench-ingress"
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	res := &IngressResult{Topic: topic, Partitions: partitions}
	r.res.Ingress = res
	data := payload(r.profile.EventSize)
	mk := func(i int) (*kgo.Record, error) { return record(topic, "produce", i, eventType, "", data) }

	// (a) franz-go straight to Kafka.
	n := 100000
	if r.profile.Name == "full" {
		n = 300000
	}
	var err error
	if res.ProduceCeiling, err = r.kafka.produce(ctx, n, mk); err != nil {
		return fmt.Errorf("produce ceiling: %w", err)
	}
	r.logf("  franz-go produce: %.0f rec/s", res.ProduceCeiling.RecordsPerSec)
	if res.ProduceAt1k, err = r.kafka.producePaced(ctx, 1000, 5*time.Second, mk); err != nil {
		return fmt.Errorf("paced produce: %w", err)
	}
	r.logf("  franz-go produce at 1k/s: ack p50 %.2f ms p99 %.2f ms", res.ProduceAt1k.AckLatency.P50, res.ProduceAt1k.AckLatency.P99)

	// (b) a bare HTTP server answering 202.
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	bare, err := r.procs.start("http-202", r.self, "http-202", "--addr", addr)
	if err != nil {
		return err
	}
	if err := waitListening(ctx, addr, 30*time.Second); err != nil {
		return err
	}
	bl := newLoader("http://"+addr+"/", r.profile.EventSize)
	bl.attack(ctx, "warm", 500, 2*time.Second, false)
	res.BareHTTPFixed = append(res.BareHTTPFixed, bl.attack(ctx, "bare-1k", 1000, r.profile.FixedDuration.Std(), false, bare))
	res.BareHTTP = r.ladder(ctx, bl, "bare", bare)
	// The bare server keeps running for its second ladder, after the ingress's first.
	defer bare.Stop()
	r.plots.throughput = append(r.plots.throughput, series{"bare net/http 202", res.BareHTTP.Steps})

	// The ingress.
	file := r.contractFile("ingress")
	uid := "ingress"
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, true)}}); err != nil {
		return err
	}
	var extra []string
	if r.opts.PprofDir != "" {
		extra = append(extra, "--pprof")
	}
	dp, err := r.startDataplane("ingress", "ingress", file, extra...)
	if err != nil {
		return err
	}
	if err := dp.waitReady(ctx, 1, []string{uid}, nil, 90*time.Second); err != nil {
		return err
	}
	sleepCtx(ctx, 2*time.Second)
	if res.IdleMemory, err = dp.Memory(); err != nil {
		return err
	}
	il := newLoader("http://"+dp.ingress+"/bench/"+uid, r.profile.EventSize)
	il.broker = r.kafka
	il.attack(ctx, "warm", 500, 2*time.Second, false)
	for _, rate := range r.profile.FixedRates {
		profiles := r.profileRoles(ctx, "ingress-"+strconv.Itoa(rate), r.profile.FixedDuration.Std(), dp)
		st := il.attack(ctx, "fixed-"+strconv.Itoa(rate), rate, r.profile.FixedDuration.Std(), false, dp.Proc)
		st.Profiles = profiles()
		r.logf("  ingress at %d/s: %.0f accepted/s, p50 %.2f p99 %.2f p99.9 %.2f ms, %.0f ev/cpu-s", rate, st.AcceptedPerSec,
			st.Latency.P50, st.Latency.P99, st.Latency.P999, st.EventsPerCPUSecond)
		res.Fixed = append(res.Fixed, st)
		r.plots.latency = append(r.plots.latency, latencySeries{fmt.Sprintf("ingress response at %d/s", rate), st.latencies})
		sleepCtx(ctx, time.Second)
	}
	res.Ingress = r.ladder(ctx, il, "ingress", dp.Proc)
	// Each ladder once more, the bare server's first, over their top steps: the machine's
	// speed drifts over minutes, and one ladder each could compare a fast minute with a slow one.
	bareAgain := r.ladderFrom(ctx, bl, "bare-again", r.repeatFrom(res.BareHTTP), bare)
	res.BareHTTPAgain = &bareAgain
	ingressAgain := r.ladderFrom(ctx, il, "ingress-again", r.repeatFrom(res.Ingress), dp.Proc)
	res.IngressAgain = &ingressAgain
	if r.opts.PprofDir != "" {
		// Where the CPU goes near saturation, where requests batch: one more step, profiled.
		profiles := r.profileRoles(ctx, "ingress-"+strconv.Itoa(ingressProfileRate), r.profile.FixedDuration.Std(), dp)
		st := il.attack(ctx, "profile", ingressProfileRate, r.profile.FixedDuration.Std(), false, dp.Proc)
		st.Profiles = profiles()
		r.logf("  ingress at %d/s (profiled): %.0f accepted/s, p99 %.2f ms, %.0f ev/cpu-s", ingressProfileRate, st.AcceptedPerSec, st.Latency.P99, st.EventsPerCPUSecond)
		res.Profiled = &st
	}
	if res.LoadMemory, err = dp.Memory(); err != nil {
		return err
	}
	r.plots.throughput = append(r.plots.throughput, series{"knkafka ingress", res.Ingress.Steps})
	if s, ok := stepAt(res.BareHTTPFixed, 1000); ok {
		r.plots.latency = append(r.plots.latency, latencySeries{"bare HTTP 202 at 1000/s", s.latencies})
	}
	r.footprintSet(func(f *FootprintResult) { f.IngressIdle0, f.IngressLoad = &res.IdleMemory, &res.LoadMemory })
	dp.Stop()
	return nil
}

// waitListening waits until addr accepts TCP connections.
func waitListening(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening after %s: %w", addr, within, err)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// footprintSet edits the footprint result, creating it on first use.
func (r *runner) footprintSet(f func(*FootprintResult)) {
	if r.res.Footprint == nil {
		r.res.Footprint = &FootprintResult{Triggers: r.profile.IdleTriggers}
	}
	f(r.res.Footprint)
}
