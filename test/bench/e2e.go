package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// endToEnd is scenario 3: events sent to the ingress process at a constant rate, through Kafka,
// delivered by a separate dispatcher process; latency from the send-time extension to arrival,
// lost and duplicated events counted by id.
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
	in, err := r.startDataplane("e2e-ingress", "ingress", file)
	if err != nil {
		return err
	}
	disp, err := r.startDataplane("e2e-dispatcher", "dispatcher", file)
	if err != nil {
		return err
	}
	if err := in.waitReady(ctx, 1, []string{uid}, nil, 90*time.Second); err != nil {
		return err
	}
	if err := disp.waitReady(ctx, 1, nil, []string{eg.UID}, 90*time.Second); err != nil {
		return err
	}
	l := newLoader("http://"+in.ingress+"/bench/"+uid, r.profile.EventSize)
	r.sink.Reset("warm", 1000, 0)
	l.attack(ctx, "warm", 500, 2*time.Second, true)
	for _, rate := range r.profile.E2ERates {
		e, lat := r.e2eRun(ctx, l, "e2e"+strconv.Itoa(rate), rate, in.Proc, disp.Proc)
		e.IngressMemory, _ = in.Memory()
		e.DispatcherMemory, _ = disp.Memory()
		r.res.EndToEnd = append(r.res.EndToEnd, e)
		r.plots.latency = append(r.plots.latency, latencySeries{fmt.Sprintf("knkafka end to end at %d/s", rate), lat})
		r.logf("  end to end at %d/s: p50 %.2f p99 %.2f p99.9 %.2f ms; %d accepted, %d lost, %d duplicates", rate,
			e.Latency.P50, e.Latency.P99, e.Latency.P999, e.Accepted, e.Lost, e.Duplicates)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// e2eRun sends rate events/s for the profile's end-to-end duration to l and waits for them at
// the sink. ingress and dispatcher, when not nil, are the processes whose CPU is reported.
func (r *runner) e2eRun(ctx context.Context, l *loader, phase string, rate int, ingress, dispatcher *Proc) (E2EResult, []time.Duration) {
	d := r.profile.E2EDuration.Std()
	r.sink.Reset(phase, int(float64(rate)*d.Seconds()*1.5)+1000, 0)
	var ui, ud usage
	var bu brokerUsage
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
	}
	return e, lat
}
