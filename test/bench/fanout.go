package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

// fanOutTypes is how many event types the fan-out backlog cycles through; trigger i filters on
// type i mod fanOutTypes, so with N ≥ 10 triggers every event reaches N/10 of them.
const fanOutTypes = 10

func fanOutType(i int) string { return eventType + ".t" + strconv.Itoa(i%fanOutTypes) }

// Bounds that keep a fan-out step from taking the machine down: every egress buffers up to
// MaxBufferedRecords per partition of its own, so a backlog is capped at maxFanOutReads records
// read over all egresses, and a step whose dispatcher grows past maxFanOutRSSMiB is stopped.
const (
	maxFanOutReads  = 2_000_000
	maxFanOutRSSMiB = 6 << 10
)

// fanOut is scenario 4: one broker, N triggers each filtering on one event type. Each step starts
// a dispatcher on an empty topic and measures it idle once every trigger is Ready, stops it,
// writes a backlog and starts a second dispatcher that drains it: deliveries per second against
// a bare HTTP client posting the same deliveries, the dispatcher's and the Kafka broker's CPU, the
// dispatcher's memory and TCP connections to Kafka, and the bytes the broker returned to it.
func (r *runner) fanOut(ctx context.Context) error {
	var one *FanOutResult
	for _, n := range r.profile.FanOut {
		m := fanOutBacklog(r.profile.FanOutEvents, r.profile.FanOutMinDeliveries, n)
		f := r.fanOutOne(ctx, m, n)
		if one == nil && n == 1 && f.Error == "" {
			one = &f
		}
		if one != nil && one.BytesFetched > 0 && f.BytesFetched > 0 {
			// Per backlog event, since the backlog shrinks for large N.
			f.BytesFetchedVsOne = round((float64(f.BytesFetched)/float64(f.Events))/(float64(one.BytesFetched)/float64(one.Events)), 2)
		}
		r.res.FanOut = append(r.res.FanOut, f)
		if f.Error != "" {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("fanout %d triggers: %s", n, f.Error))
		}
		r.logf("  %d triggers: all ready after %.1fs; %d/%d deliveries, %.0f delivered/s (%.2f× bare client), cpu %.1f s + broker %.1f s, "+
			"RSS idle %.0f peak %.0f MiB, connections idle %d peak %d, detaches %d rejoins %d, %d bytes fetched (%.2f× of 1 trigger) %s",
			n, f.AllReadySeconds, f.Delivered, f.ExpectedDeliveries, f.DeliveredPerSec, f.VsBareClient, f.CPUSeconds, f.BrokerCPUSeconds,
			f.IdleRSSMiB, f.PeakRSSMiB, f.IdleConns, f.PeakConns, f.Detaches, f.Rejoins, f.BytesFetched, f.BytesFetchedVsOne, f.Error)
		r.procs.stopAll()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// fanOutBacklog is the backlog of a step with n triggers: events, or more when that makes fewer
// than minDeliveries (each event reaches one trigger in ten, and at least one), but never more
// than maxFanOutReads records read over all triggers; a multiple of fanOutTypes.
func fanOutBacklog(events, minDeliveries, n int) int {
	perEvent := max(n/fanOutTypes, 1)
	m := max(events, (minDeliveries+perEvent-1)/perEvent)
	m = min(m, maxFanOutReads/n)
	return m - m%fanOutTypes
}

// bareClient runs the bare HTTP client (net/http's transport or h1transport) posting n events to
// the subscriber with the in-flight limit as its concurrency: its drain and its CPU.
func (r *runner) bareClient(ctx context.Context, n int, transport string) (Drain, error) {
	r.sink.Reset("c", n, 0)
	cl, err := r.procs.start("http-client", r.self, "http-client", "--url", r.sink.URL+"/client", "--n", strconv.Itoa(n),
		"--concurrency", strconv.Itoa(r.profile.MaxInFlight), "--phase", "c", "--size", strconv.Itoa(r.profile.EventSize),
		"--transport", transport)
	if err != nil {
		return Drain{}, err
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		return Drain{}, ctx.Err()
	case <-time.After(10 * time.Minute):
		cl.Stop()
		return Drain{}, fmt.Errorf("bare HTTP client did not finish within 10 minutes")
	}
	d := r.drainFrom("bare HTTP client ("+transport+")", n, time.Time{})
	d.CPUSeconds = round(cl.exitCPU(), 2)
	d.EventsPerCPUSecond = perSecond(float64(n), d.CPUSeconds)
	return d, nil
}

func (r *runner) fanOutOne(ctx context.Context, m, n int) FanOutResult {
	res := FanOutResult{Triggers: n, Events: m}
	fail := func(err error) FanOutResult { res.Error = err.Error(); return res }
	topic := "bench-fanout-" + strconv.Itoa(n)
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return fail(err)
	}
	uid := "fanout"
	egresses := make([]contract.Egress, n)
	uids := make([]string, n)
	perType := make([]int64, fanOutTypes)
	for i := range m {
		perType[i%fanOutTypes]++
	}
	for i := range egresses {
		uids[i] = fmt.Sprintf("fanout-%d-%d", n, i)
		var filter *contract.Filter
		if n == 1 {
			res.ExpectedDeliveries = int64(m)
		} else {
			filter = &contract.Filter{Attributes: map[string]string{"type": fanOutType(i)}}
			res.ExpectedDeliveries += perType[i%fanOutTypes]
		}
		egresses[i] = r.egress(uids[i], uids[i], r.sink.URL+"/e/"+strconv.Itoa(i), contract.Unordered, filter)
		if err := r.kafka.commitStart(ctx, uids[i], topic); err != nil {
			return fail(err)
		}
	}
	bareDrain, err := r.bareClient(ctx, int(res.ExpectedDeliveries), "net/http")
	if err != nil {
		return fail(fmt.Errorf("bare HTTP client: %w", err))
	}
	bare := bareDrain.PerSec
	res.BareClientPerSec = bare

	file := r.contractFile(fmt.Sprintf("fanout-%d", n))
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, false, egresses...)}}); err != nil {
		return fail(err)
	}
	ports := r.kafka.listenerPorts()

	// Idle: a first dispatcher with every trigger Ready and nothing to read; stopping it leaves
	// the groups at the start of the topic.
	idle, err := r.startDataplane(fmt.Sprintf("fanout-%d-idle", n), "dispatcher", file)
	if err != nil {
		return fail(err)
	}
	if err := idle.waitReady(ctx, 1, nil, uids, 10*time.Minute); err != nil {
		idle.Stop()
		return fail(err)
	}
	res.AllReadySeconds = round(time.Since(idle.Started).Seconds(), 2)
	sleepCtx(ctx, 3*time.Second)
	if mem, err := idle.Memory(); err == nil {
		res.IdleRSSMiB = round(mem.RSSMiB, 1)
	}
	res.IdleConns, _ = kafkaConns(idle.Pid(), ports)
	idle.Stop()

	// Draining: the backlog is written, then a second dispatcher reads it from the start.
	data := payload(r.profile.EventSize)
	if _, err := r.kafka.produce(ctx, m, func(i int) (*kgo.Record, error) {
		return record(topic, "f", i, fanOutType(i), "", data)
	}); err != nil {
		return fail(fmt.Errorf("writing the backlog: %w", err))
	}
	r.sink.Reset("f", m, n)
	bytes0, bytesErr := r.kafka.bytesOut(ctx)
	bu := r.kafka.startUsage()
	dp, err := r.startDataplane(fmt.Sprintf("fanout-%d", n), "dispatcher", file)
	if err != nil {
		return fail(err)
	}
	defer dp.Stop()
	tooBig := false
	var lastSample time.Time
	ok := waitFor(ctx, 15*time.Minute, 90*time.Second, func() bool {
		if time.Since(lastSample) >= 200*time.Millisecond {
			lastSample = time.Now()
			if m, err := dp.Memory(); err == nil && m.RSSMiB > maxFanOutRSSMiB {
				tooBig = true
				return true
			}
			if c, err := kafkaConns(dp.Pid(), ports); err == nil {
				res.PeakConns = max(res.PeakConns, c)
			}
		}
		return r.sink.PathTotal() >= res.ExpectedDeliveries
	}, func() int64 { return r.sink.PathTotal() })
	cpu, _ := dp.CPUSeconds()
	res.BrokerCPUSeconds = bu.stop()
	for _, c := range []struct {
		event string
		into  *int64
	}{{"detach", &res.Detaches}, {"rejoin", &res.Rejoins}} {
		if v, err := dp.counter(ctx, "knkafka_dispatcher_lane_catch_ups_total", `event="`+c.event+`"`); err == nil {
			*c.into = int64(v)
		} else {
			r.logf("  lane catch-ups (%s) unknown: %v", c.event, err)
		}
	}
	if bytesErr == nil {
		if bytes1, err := r.kafka.bytesOut(ctx); err == nil {
			res.BytesFetched = bytes1 - bytes0
		} else {
			bytesErr = err
		}
	}
	if bytesErr != nil {
		r.logf("  bytes fetched unknown: %v", bytesErr)
	}
	mem, _ := dp.Memory()
	st := r.sink.Stats()
	res.Delivered = r.sink.PathTotal()
	res.CPUSeconds = round(cpu, 2)
	res.DeliveriesPerCPUSecondInclBroker = perCPUSecondInclBroker(float64(res.Delivered), cpu, res.BrokerCPUSeconds)
	res.PeakRSSMiB = round(mem.PeakMiB, 1)
	if !st.First.IsZero() {
		secs := st.Last.Sub(st.First).Seconds()
		res.Seconds = round(secs, 3)
		res.DeliveredPerSec = perSecond(float64(res.Delivered), secs)
		res.RecordsReadPerSec = perSecond(float64(m)*float64(n), secs)
		if bare > 0 {
			res.VsBareClient = round(res.DeliveredPerSec/bare, 2)
		}
	}
	var short []string
	for i := range n {
		want := int64(m)
		if n > 1 {
			want = perType[i%fanOutTypes]
		}
		if got := r.sink.PathCount(i); got < want {
			res.ShortEgresses++
			if len(short) < 5 {
				short = append(short, fmt.Sprintf("%s %d/%d", uids[i], got, want))
			}
		}
	}
	if len(short) > 0 {
		res.Error = fmt.Sprintf("%d egresses short (e.g. %v)", res.ShortEgresses, short)
	}
	switch {
	case tooBig:
		res.Error = fmt.Sprintf("stopped: the dispatcher's RSS passed %d MiB after %d of %d deliveries; %s", maxFanOutRSSMiB, res.Delivered, res.ExpectedDeliveries, res.Error)
	case !ok:
		res.Error = fmt.Sprintf("only %d of %d deliveries after no progress for 90s; %s", res.Delivered, res.ExpectedDeliveries, res.Error)
	}
	return res
}
