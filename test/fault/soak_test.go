//go:build soak

package fault

import (
	"os"
	"testing"
	"time"

	"knkafka.dev/test/kafkatest"
)

// dispatcherKillEvents is the stream TestDispatcherKilledEveryFewSeconds sends in make soak.
const dispatcherKillEvents = 50_000

// TestSoak is `make soak`, after Sacura: 100 events per second through the ingress for
// SOAK_DURATION (default 10m) to a subscriber via the dispatcher, on a three-node cluster and a
// topic of 10 partitions with replication 3. Then nothing may be lost, at most 0.1% may be
// duplicates, and the group's committed offsets must equal the topic's end offsets.
//
// It exists only with the soak build tag, so a plain `go test ./...` neither runs nor skips it.
func TestSoak(t *testing.T) {
	d := 10 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q is not a positive Go duration (e.g. 2m): %v", v, err)
		}
	}
	const rate = 100
	c := sharedCluster(t)
	topic := kafkatest.CreateReplicatedTopic(t, c.Servers, 10, 3, replicated())
	r := newRig(t, c.Servers, topic)
	r.dispatcher(true)
	lg := load{URL: r.url(), Events: int(d.Seconds() * rate), Rate: rate, Prefix: "soak"}.run(ctxFor(t, d+10*time.Minute))
	lg.wait(t, d+5*time.Minute)
	res := r.finish("soak", lg, 5*time.Minute)
	t.Logf("soak: %s at %d ev/s; all delivered and counted after %s", d, rate, res.elapsed.Round(time.Second))
	if res.dupRate() > 0.1 {
		t.Errorf("duplicate rate %.3f%% is over 0.1%%", res.dupRate())
	}
	if gap := commitGap(kafkatest.Admin(t, c.Servers), topic, r.group); len(gap) > 0 {
		t.Errorf("committed offsets are not the end offsets: %v", gap)
	}
}
