package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

// dispatcher is scenario 2: a preloaded backlog drained to the subscriber in each delivery
// order, next to franz-go consuming the topic without delivering and a bare HTTP client posting
// the same events with the dispatcher's in-flight limit as its concurrency.
func (r *runner) dispatcher(ctx context.Context) error {
	topic := "bench-dispatch"
	n, keys := r.profile.BacklogEvents, 1000
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	res := &DispatcherResult{Topic: topic, Partitions: partitions, Events: n, Keys: keys, MaxInFlight: r.profile.MaxInFlight}
	r.res.Dispatcher = res
	data := payload(r.profile.EventSize)
	var err error
	res.Preload, err = r.kafka.produce(ctx, n, func(i int) (*kgo.Record, error) {
		return record(topic, "d", i, eventType, "key-"+strconv.Itoa(i%keys), data)
	})
	if err != nil {
		return fmt.Errorf("preloading: %w", err)
	}
	r.logf("  preloaded %d events at %.0f rec/s", n, res.Preload.RecordsPerSec)
	if res.ConsumeCeiling, err = r.kafka.consume(ctx, topic, n); err != nil {
		return fmt.Errorf("consume ceiling: %w", err)
	}
	r.logf("  franz-go consume: %.0f rec/s", res.ConsumeCeiling.RecordsPerSec)

	// The bare HTTP client against the same subscriber: net/http's (issue 16's ceiling), then the
	// same client on the dispatcher's transport.
	for _, c := range []struct {
		transport string
		into      *Drain
	}{{"net/http", &res.BareClient}, {"h1transport", &res.BareClientH1}} {
		if *c.into, err = r.bareClient(ctx, n, c.transport); err != nil {
			return err
		}
		r.logf("  bare HTTP client (%s): %.0f ev/s", c.transport, c.into.PerSec)
	}

	// The dispatcher, following a contract that swaps one egress per order.
	file := r.contractFile("dispatcher")
	uid := "dispatch"
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, false)}}); err != nil {
		return err
	}
	dp, err := r.startDataplane("dispatcher", "dispatcher", file)
	if err != nil {
		return err
	}
	if err := dp.waitReady(ctx, 1, nil, nil, 90*time.Second); err != nil {
		return err
	}
	sleepCtx(ctx, 2*time.Second)
	if res.IdleMemory, err = dp.Memory(); err != nil {
		return err
	}
	for i, order := range []contract.DeliveryOrder{contract.Unordered, contract.Ordered, contract.KeyOrdered} {
		group := "bench-dispatch-" + string(order)
		if err := r.kafka.commitStart(ctx, group, topic); err != nil {
			return err
		}
		r.sink.Reset("d", n, 0)
		eg := r.egress("drain-"+string(order), group, r.sink.URL+"/drain", order, nil)
		u := startUsage(dp.Proc)
		bu := r.kafka.startUsage()
		t0 := time.Now()
		if err := writeContract(file, &contract.Contract{Generation: uint64(i + 2),
			Resources: []contract.Resource{r.brokerResource(uid, topic, false, eg)}}); err != nil {
			return err
		}
		ok := waitFor(ctx, 10*time.Minute, 60*time.Second, func() bool { return r.sink.Stats().Unique >= int64(n) },
			func() int64 { return r.sink.Stats().Total })
		cpu, _ := u.stop()
		d := r.drainFrom(string(order), n, t0)
		d.CPUSeconds = round(cpu, 2)
		d.EventsPerCPUSecond = perSecond(float64(d.Unique), cpu)
		d.BrokerCPUSeconds = bu.stop()
		d.EventsPerCPUSecondInclBroker = perCPUSecondInclBroker(float64(d.Unique), cpu, d.BrokerCPUSeconds)
		if m, err := dp.Memory(); err == nil {
			d.Memory = &m
		}
		if !ok {
			d.Error = fmt.Sprintf("only %d of %d events arrived", d.Unique, n)
		}
		r.logf("  dispatcher %s: %.0f ev/s, %.0f ev/cpu-s, first arrival after %.2fs, %d duplicates", order, d.PerSec,
			d.EventsPerCPUSecond, d.FirstArrivalSeconds, d.Duplicates)
		res.Modes = append(res.Modes, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := r.sourceDrain(ctx, dp, file, res); err != nil {
		return err
	}
	if res.LoadMemory, err = dp.Memory(); err != nil {
		return err
	}
	r.footprintSet(func(f *FootprintResult) { f.DispatcherIdle0, f.DispatcherLoad = &res.IdleMemory, &res.LoadMemory })
	dp.Stop()
	return nil
}

// drainFrom reads the sink's current phase as a drain of n events begun at t0 (zero: unknown).
func (r *runner) drainFrom(name string, n int, t0 time.Time) Drain {
	st := r.sink.Stats()
	d := Drain{Name: name, Events: n, Unique: st.Unique, Duplicates: st.Total - st.Unique}
	if !st.First.IsZero() {
		d.Seconds = round(st.Last.Sub(st.First).Seconds(), 3)
		d.PerSec = perSecond(float64(st.Unique), d.Seconds)
		if !t0.IsZero() {
			d.FirstArrivalSeconds = round(st.First.Sub(t0).Seconds(), 3)
		}
	}
	return d
}

// exitCPU is the CPU time of a process that has exited.
func (p *Proc) exitCPU() float64 {
	if !p.Exited() || p.cmd.ProcessState == nil {
		return 0
	}
	return (p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()).Seconds()
}

// sourceDrain drains a KafkaSource over a topic preloaded with n plain records (the same payload
// and keys as the backlog, no CloudEvents headers): every record is converted to a CloudEvent of
// type dev.knative.kafka.event, so this is the source's throughput next to the same run's consume
// ceiling and bare HTTP client. The sink counts the converted events by their
// "partition:<p>/offset:<o>" ids.
func (r *runner) sourceDrain(ctx context.Context, dp *dataplane, file string, res *DispatcherResult) error {
	topic, n := "bench-source", res.Events
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	data := payload(r.profile.EventSize)
	if _, err := r.kafka.produce(ctx, n, func(i int) (*kgo.Record, error) {
		return &kgo.Record{Topic: topic, Key: []byte("key-" + strconv.Itoa(i%res.Keys)), Value: data}, nil
	}); err != nil {
		return fmt.Errorf("preloading the source topic: %w", err)
	}
	for i, order := range []contract.DeliveryOrder{contract.Unordered, contract.Ordered} {
		name := "source-" + string(order)
		eg := r.egress(name, "bench-"+name, r.sink.URL+"/source", order, nil)
		eg.Kind, eg.InitialOffset = contract.KindKafkaSource, contract.OffsetEarliest
		src := contract.Resource{UID: name, Kind: contract.KindKafkaSource, Namespace: "bench", Name: name,
			Topics: []string{topic}, BootstrapServers: r.kafka.servers, Egresses: []contract.Egress{eg},
			Source: &contract.Source{EventSource: "/apis/v1/namespaces/bench/kafkasources/" + name}}
		r.sink.Reset(sourcePhase, n*partitions, 0)
		u := startUsage(dp.Proc)
		bu := r.kafka.startUsage()
		t0 := time.Now()
		if err := writeContract(file, &contract.Contract{Generation: uint64(100 + i), Resources: []contract.Resource{src}}); err != nil {
			return err
		}
		ok := waitFor(ctx, 10*time.Minute, 60*time.Second, func() bool { return r.sink.Stats().Unique >= int64(n) },
			func() int64 { return r.sink.Stats().Total })
		cpu, _ := u.stop()
		d := r.drainFrom(name, n, t0)
		d.CPUSeconds = round(cpu, 2)
		d.EventsPerCPUSecond = perSecond(float64(d.Unique), cpu)
		d.BrokerCPUSeconds = bu.stop()
		d.EventsPerCPUSecondInclBroker = perCPUSecondInclBroker(float64(d.Unique), cpu, d.BrokerCPUSeconds)
		if !ok {
			d.Error = fmt.Sprintf("only %d of %d records arrived", d.Unique, n)
		}
		r.logf("  KafkaSource %s: %.0f rec/s, %.0f rec/cpu-s, %d duplicates", order, d.PerSec, d.EventsPerCPUSecond, d.Duplicates)
		res.Modes = append(res.Modes, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
