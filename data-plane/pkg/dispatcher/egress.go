package dispatcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
)

// egressHash identifies what an egress's running lane and source depend on: the egress itself,
// its resource's topics, Kafka cluster and credentials (cluster is the kafkaconn.Key of the
// servers and the resolved Security, so a rotated Secret changes it), and for a KafkaSource how
// records become events. An unchanged hash keeps the egress running.
func egressHash(res *contract.Resource, eg *contract.Egress, cluster string) string {
	b, err := json.Marshal(struct {
		Egress  *contract.Egress
		Topic   string
		Topics  []string         `json:",omitempty"`
		Source  *contract.Source `json:",omitempty"`
		Servers []string
		Cluster string
	}{eg, res.Topic, res.Topics, res.Source, res.BootstrapServers, cluster})
	if err != nil {
		// The contract is plain data; Marshal cannot fail on it.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// egress runs one egress: a lane fed by a groupSource of its own, or, as a follower, by the
// shared reader of its resource's topic (shared.go).
type egress struct {
	uid     string
	hash    string
	logger  *zap.Logger
	src     *groupSource
	fol     *follower
	lane    *lane
	proc    *processor
	metrics *egressMetrics
	bytes   *membudget.Account
	// units is the egress's account on the dispatcher's bound on deliveries in flight.
	units *membudget.Account

	cancel context.CancelFunc
	done   chan struct{}
	cl     *kgo.Client // set when run returns
	ready  atomic.Bool
	stopMu sync.Mutex
	// invalid, when set, is why the egress cannot run (with invalidReason, its Reason);
	// nothing else is started.
	invalid, invalidReason string
	// replyKey is the key of the reply producer the egress uses; empty for none.
	replyKey string
	// halted, once set, is why the egress stopped fetching (a panic while processing).
	halted    atomic.Pointer[string]
	runCancel context.CancelFunc
}

// halt stops fetching for good and reports reason as the egress's status; the lane keeps what it
// completed, and stop commits it as usual. Only a new contract entry (a changed hash) restarts it.
func (e *egress) halt(reason string) {
	e.halted.CompareAndSwap(nil, &reason)
	if e.fol != nil {
		e.fol.halt()
		return
	}
	e.runCancel()
}

func (e *egress) start() {
	if e.fol != nil {
		// Nothing of its own to cancel: the reader feeds it. A non-nil cancel is what tells stop
		// that the egress started.
		e.cancel = func() {}
		e.fol.r.add(e.fol)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.runCancel = cancel, cancel
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.cl = e.src.run(ctx)
	}()
}

// status is Ready once the source joined the group with every start offset fixed and the lane
// committed the resolved ones; it stays Ready afterwards (later rebalances resume from commits).
func (e *egress) status() contract.ServingStatus {
	if e.invalid != "" {
		return contract.ServingStatus{Reason: e.invalidReason, Message: e.invalid}
	}
	if reason := e.halted.Load(); reason != nil {
		return contract.ServingStatus{Reason: ReasonEgressFailed, Message: *reason}
	}
	if e.ready.Load() {
		return contract.ServingStatus{Ready: true}
	}
	phase := e.phase
	if e.fol != nil {
		phase = e.fol.phase
	}
	settled, reason, msg := phase()
	if !settled {
		return contract.ServingStatus{Reason: reason, Message: msg}
	}
	if n := e.lane.unsettled(); n > 0 {
		return contract.ServingStatus{Reason: ReasonFixingOffsets, Message: "committing the start offsets of new partitions"}
	}
	e.ready.Store(true)
	return contract.ServingStatus{Ready: true}
}

// stop stops fetching, lets in-flight deliveries drain, commits what is complete and leaves the
// consumer group. It is idempotent.
func (e *egress) stop(ctx context.Context) {
	e.stopMu.Lock()
	defer e.stopMu.Unlock()
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	if e.fol != nil {
		e.fol.leave(ctx)
		e.finish()
		return
	}
	<-e.done
	// Still a group member: commit under the current generation before leaving. A rebalance
	// during this waits in the revoke callback (the lane serializes them).
	e.lane.close(ctx)
	if e.cl != nil {
		e.cl.Close()
	}
	e.finish()
}

// phase is the groupSource's phase.
func (e *egress) phase() (bool, string, string) { return e.src.phase() }

// finish releases what the egress held once its lane stopped.
func (e *egress) finish() {
	e.units.Close()
	if leaked := e.bytes.Close(); leaked != 0 {
		e.logger.Error("memory budget bytes still held after the egress stopped; released them", zap.Int64("bytes", leaked))
	}
	e.proc.close()
	e.metrics.forget()
	e.logger.Info("egress stopped")
}
