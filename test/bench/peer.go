package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// peer is scenario 7: Knative's in-memory channel data path (knative.dev/eventing's
// kncloudevents receiver, multi-channel fan-out and dispatcher) as a process of its own, under
// the same vegeta load as the ingress, delivering to the same subscriber.
func (r *runner) peer(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := r.procs.start("knative-imc", r.self, "knative-imc", "--port", strconv.Itoa(port), "--subscriber", r.sink.URL+"/imc")
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(ctx, addr, 30*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, p.LogTail(2000))
	}
	res := &PeerResult{Name: "knative.dev/eventing v0.50.0 in-memory channel (fanout.FanoutEventHandler via kncloudevents)",
		Note: "in memory, not durable; answers 202 after the subscriber accepted, so its ingress latency includes the delivery"}
	r.res.Peer = res
	sleepCtx(ctx, 2*time.Second)
	if res.IdleMemory, err = p.Memory(); err != nil {
		return err
	}
	l := newLoader("http://"+addr+"/default/imc", r.profile.EventSize)
	r.sink.Reset("warm", 2000, 0)
	if st := l.attack(ctx, "warm", 500, 2*time.Second, true); st.Accepted == 0 {
		return fmt.Errorf("the Knative peer accepted no event: codes %v, errors %v\n%s", st.Codes, st.Errors, p.LogTail(2000))
	}
	e, lat := r.e2eRun(ctx, l, "imc1000", 1000, r.profile.E2EDuration.Std(), p, nil)
	e.IngressMemory, _ = p.Memory()
	res.E2E = &e
	r.plots.latency = append(r.plots.latency, latencySeries{"Knative IMC end to end at 1000/s", lat})
	r.logf("  Knative IMC at 1k/s: response p99 %.2f ms, end to end p50 %.2f p99 %.2f ms, %d lost", e.IngressLatency.P99,
		e.Latency.P50, e.Latency.P99, e.Lost)
	r.sink.Reset("ladder", 0, 0)
	res.Ladder = r.ladder(ctx, l, "imc", p)
	if res.LoadMemory, err = p.Memory(); err != nil {
		return err
	}
	r.plots.throughput = append(r.plots.throughput, series{"Knative IMC (in memory)", res.Ladder.Steps})
	p.Stop()
	return nil
}
