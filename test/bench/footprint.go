package bench

import (
	"context"
	"strconv"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// footprint is scenario 5: the resident memory of an ingress and a dispatcher following a
// contract with the profile's idle trigger count (no traffic), next to the 0-trigger and
// under-load figures the ingress and dispatcher scenarios recorded.
func (r *runner) footprint(ctx context.Context) error {
	topic := "bench-idle"
	if err := r.kafka.createTopic(ctx, topic, partitions); err != nil {
		return err
	}
	n := r.profile.IdleTriggers
	uid := "idle"
	egresses := make([]contract.Egress, n)
	uids := make([]string, n)
	for i := range egresses {
		uids[i] = "idle-" + strconv.Itoa(i)
		egresses[i] = r.egress(uids[i], "bench-idle-"+strconv.Itoa(i), r.sink.URL+"/idle/"+strconv.Itoa(i), contract.Unordered, nil)
	}
	file := r.contractFile("footprint")
	if err := writeContract(file, &contract.Contract{Generation: 1, Resources: []contract.Resource{r.brokerResource(uid, topic, true, egresses...)}}); err != nil {
		return err
	}
	in, err := r.startDataplane("footprint-ingress", "ingress", file)
	if err != nil {
		return err
	}
	if err := in.waitReady(ctx, 1, []string{uid}, nil, 90*time.Second); err != nil {
		return err
	}
	sleepCtx(ctx, 2*time.Second)
	inMem, err := in.Memory()
	if err != nil {
		return err
	}
	r.footprintSet(func(f *FootprintResult) { f.IngressIdleN = &inMem })
	in.Stop()
	r.logf("  ingress with %d triggers in the contract: %.1f MiB", n, inMem.RSSMiB)

	dp, err := r.startDataplane("footprint-dispatcher", "dispatcher", file)
	if err != nil {
		return err
	}
	if err := dp.waitReady(ctx, 1, nil, uids, 5*time.Minute); err != nil {
		return err
	}
	ready := time.Since(dp.Started).Seconds()
	sleepCtx(ctx, 3*time.Second)
	u := startUsage(dp.Proc)
	sleepCtx(ctx, 10*time.Second)
	cpu, wall := u.stop()
	mem, err := dp.Memory()
	if err != nil {
		return err
	}
	r.footprintSet(func(f *FootprintResult) {
		f.DispatcherIdleN, f.DispatcherReadySeconds = &mem, round(ready, 2)
		f.DispatcherIdleCores = round(cpu/wall, 3)
	})
	r.logf("  dispatcher with %d idle triggers: ready after %.1fs, %.1f MiB (peak %.1f), %.2f cores idle", n, ready,
		mem.RSSMiB, mem.PeakMiB, cpu/wall)
	dp.Stop()
	return nil
}
