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

// fanOut is scenario 4: one broker, N triggers each filtering on one event type, draining a
// preloaded backlog in a fresh dispatcher: deliveries per second, CPU and peak memory.
func (r *runner) fanOut(ctx context.Context) error {
	topics := map[int]string{} // backlog size → preloaded topic
	data := payload(r.profile.EventSize)
	for _, n := range r.profile.FanOut {
		m := min(r.profile.FanOutEvents, maxFanOutReads/n)
		m -= m % fanOutTypes
		topic, ok := topics[m]
		if !ok {
			topic = "bench-fanout-" + strconv.Itoa(m)
			if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
				return err
			}
			if _, err := r.kafka.produce(ctx, m, func(i int) (*kgo.Record, error) {
				return record(topic, "f", i, fanOutType(i), "", data)
			}); err != nil {
				return fmt.Errorf("preloading: %w", err)
			}
			topics[m] = topic
		}
		f := r.fanOutOne(ctx, topic, m, n)
		r.res.FanOut = append(r.res.FanOut, f)
		if f.Error != "" {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("fanout %d triggers: %s", n, f.Error))
		}
		r.logf("  %d triggers: %d/%d deliveries, %.0f delivered/s, %.0f records read/s, %.1f cpu-s, peak %.0f MiB, all ready after %.1fs %s",
			n, f.Delivered, f.ExpectedDeliveries, f.DeliveredPerSec, f.RecordsReadPerSec, f.CPUSeconds, f.PeakRSSMiB, f.AllReadySeconds, f.Error)
		r.procs.stopAll()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (r *runner) fanOutOne(ctx context.Context, topic string, m, n int) FanOutResult {
	res := FanOutResult{Triggers: n, Events: m}
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
			res.Error = err.Error()
			return res
		}
	}
	file := r.contractFile(fmt.Sprintf("fanout-%d", n))
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, false, egresses...)}}); err != nil {
		res.Error = err.Error()
		return res
	}
	r.sink.Reset("f", m, n)
	dp, err := r.startDataplane(fmt.Sprintf("fanout-%d", n), "dispatcher", file)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer dp.Stop()
	type readiness struct {
		at  time.Time
		err error
	}
	ready := make(chan readiness, 1)
	go func() {
		err := dp.waitReady(ctx, 1, nil, uids, 10*time.Minute)
		ready <- readiness{time.Now(), err}
	}()
	tooBig := false
	ok := waitFor(ctx, 15*time.Minute, 90*time.Second, func() bool {
		if m, err := dp.Memory(); err == nil && m.RSSMiB > maxFanOutRSSMiB {
			tooBig = true
			return true
		}
		return r.sink.PathTotal() >= res.ExpectedDeliveries
	}, func() int64 { return r.sink.PathTotal() })
	cpu, _ := dp.CPUSeconds()
	mem, _ := dp.Memory()
	st := r.sink.Stats()
	res.Delivered = r.sink.PathTotal()
	res.CPUSeconds = round(cpu, 2)
	res.PeakRSSMiB = round(mem.PeakMiB, 1)
	if !st.First.IsZero() {
		secs := st.Last.Sub(st.First).Seconds()
		res.Seconds = round(secs, 3)
		res.DeliveredPerSec = perSecond(float64(res.Delivered), secs)
		res.RecordsReadPerSec = perSecond(float64(m)*float64(n), secs)
	}
	select {
	case rd := <-ready:
		if rd.err == nil {
			res.AllReadySeconds = round(rd.at.Sub(dp.Started).Seconds(), 2)
		}
	case <-time.After(30 * time.Second):
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
