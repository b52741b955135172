package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

// reactivity is scenario 6: with events flowing into a topic, the time from launching a
// dispatcher to its first delivery, then from writing a contract that adds an egress to that
// egress's first delivery, repeated.
func (r *runner) reactivity(ctx context.Context) error {
	topic := "bench-react"
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	const rate = 500
	res := &ReactivityResult{ProduceRate: rate}
	r.res.Reactivity = res
	reps := r.profile.ReactivityRepeats
	r.sink.Reset("r", 0, reps+1)

	// A steady stream, so an egress's first delivery follows its readiness within 2 ms.
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.kafka.servers...), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	data := payload(r.profile.EventSize)
	go func() {
		t := time.NewTicker(time.Second / rate)
		defer t.Stop()
		for i := 0; pctx.Err() == nil; i++ {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			if rec, err := record(topic, "r", i, eventType, "", data); err == nil {
				cl.Produce(pctx, rec, nil)
			}
		}
	}()

	file := r.contractFile("reactivity")
	uid := "react"
	egresses := []contract.Egress{r.egress("react-0", "bench-react-0", r.sink.URL+"/e/0", contract.Unordered, nil)}
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, false, egresses...)}}); err != nil {
		return err
	}
	dp, err := r.startDataplane("reactivity", "dispatcher", file)
	if err != nil {
		return err
	}
	first, err := r.firstOnPath(ctx, 0, dp.Started, 90*time.Second)
	if err != nil {
		return fmt.Errorf("start-up: %w", err)
	}
	res.StartupSeconds = round(first, 3)
	r.logf("  launch → first delivery: %.3fs", first)
	for i := 1; i <= reps; i++ {
		egresses = append(egresses, r.egress("react-"+strconv.Itoa(i), "bench-react-"+strconv.Itoa(i), r.sink.URL+"/e/"+strconv.Itoa(i), contract.Unordered, nil))
		if err := writeContract(file, &contract.Contract{Generation: uint64(i + 1), Resources: []contract.Resource{r.brokerResource(uid, topic, false, egresses...)}}); err != nil {
			return err
		}
		written := time.Now()
		s, err := r.firstOnPath(ctx, i, written, 60*time.Second)
		if err != nil {
			return fmt.Errorf("contract change %d: %w", i, err)
		}
		res.ChangeSeconds = append(res.ChangeSeconds, round(s, 3))
		r.logf("  contract change %d → first delivery: %.3fs", i, s)
		sleepCtx(ctx, 500*time.Millisecond)
	}
	res.MedianSeconds = round(median(res.ChangeSeconds), 3)
	dp.Stop()
	return nil
}

// firstOnPath waits for the first arrival on "/e/<i>" and returns its delay after since.
func (r *runner) firstOnPath(ctx context.Context, i int, since time.Time, within time.Duration) (float64, error) {
	ok := waitFor(ctx, within, 0, func() bool { return !r.sink.PathFirst(i).IsZero() }, func() int64 { return 0 })
	if !ok {
		return 0, fmt.Errorf("no delivery to egress %d within %s", i, within)
	}
	return r.sink.PathFirst(i).Sub(since).Seconds(), nil
}
