// Package fault is the fault suite: knkafka-dataplane processes and real Kafka brokers are killed,
// stopped and scaled under load, and each test counts the unique event ids its subscriber (and
// dead-letter sink) got against the ids the client saw answered 202. Every test logs one line
//
//	fault=<name> sent=… accepted=… delivered_unique=… lost=… duplicates=… dup_rate=…%
//
// and fails on any lost event. The harness (harness_test.go): load, a load generator that retries
// with the same id and keeps a ledger of 202s; sink, a counting subscriber whose answer the test
// switches; count, the report; waitCommittedAtEnd, the check that the group's committed offsets
// reach the topic's end. Tests that kill Kafka brokers share one private three-node cluster
// (sharedCluster), started on first use — or, when every test runs, in the background from the
// start — and stopped after the last test.
//
// `make soak` builds this package with the soak tag, which adds TestSoak and runs the dispatcher
// fault at soak size (soak_test.go); without the tag TestSoak does not exist.
package fault

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
	"knkafka.dev/test/proctest"
)

var binary string

var shared struct {
	once    sync.Once
	dir     string
	cluster *kafkatest.Cluster
	err     error
}

func TestMain(m *testing.M) {
	flag.Parse()
	if run := flag.Lookup("test.run"); run != nil && run.Value.String() == "" {
		// Every test runs (make test): start the three-node cluster (half a minute on two cores)
		// while the binary builds and the single-node tests run, not when the first test needs it.
		go shared.once.Do(startSharedCluster)
	}
	proctest.Main(m, "./data-plane/cmd/knkafka-dataplane", &binary, func() {
		shared.once.Do(func() {}) // waits for a start under way
		if shared.cluster != nil {
			if err := shared.cluster.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
		if shared.dir != "" {
			_ = os.RemoveAll(shared.dir)
		}
	})
}

// sharedCluster is the package's private three-node KRaft cluster, started on first use. Tests
// that kill its nodes must leave every node running when they end.
func sharedCluster(t testing.TB) *kafkatest.Cluster {
	t.Helper()
	shared.once.Do(startSharedCluster)
	if shared.err != nil {
		t.Fatalf("the fault suite's three-node Kafka cluster: %v", shared.err)
	}
	return shared.cluster
}

func startSharedCluster() {
	shared.dir, shared.err = os.MkdirTemp("", "knkafka-fault-cluster")
	if shared.err == nil {
		shared.cluster, shared.err = kafkatest.NewCluster(3, shared.dir)
	}
}

// replicated is the topic config of a three-replica topic as our control plane creates it.
func replicated() map[string]*string {
	two := "2"
	return map[string]*string{"min.insync.replicas": &two}
}

// sessionTimeout is the dispatchers' group session timeout: a SIGKILLed replica holds its
// partitions this long (the broker's minimum is 6s; the default 45s would make every kill a
// 45-second stall).
const sessionTimeout = 6 * time.Second

// rig is one broker with one trigger, served by knkafka-dataplane processes from a contract file:
// an ingress process and the dispatcher processes a test starts.
type rig struct {
	t       *testing.T
	servers []string
	topic   string
	group   string
	file    string
	sub     *sink
	ingress *proctest.DataPlane
}

// newRig writes the contract of a broker on topic (which must exist) whose trigger delivers to a
// new counting subscriber, and starts an ingress process serving it. opts adjust the trigger.
func newRig(t *testing.T, servers []string, topic string, opts ...func(*contract.Egress)) *rig {
	t.Helper()
	r := &rig{t: t, servers: servers, topic: topic, group: "knative-trigger-" + topic,
		file: filepath.Join(t.TempDir(), "contract.json"), sub: newSink(t)}
	eg := contract.Egress{
		UID: "trigger-uid", Kind: contract.KindTrigger, Namespace: "default", Name: "all",
		ConsumerGroup: r.group, Destination: r.sub.addr,
		Reply: contract.Reply{Kind: contract.ReplyDiscard}, Order: contract.Unordered,
		Delivery: contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear,
			BackoffDelay: contract.Duration(50 * time.Millisecond), Timeout: contract.Duration(5 * time.Second)},
	}
	for _, o := range opts {
		o(&eg)
	}
	proctest.WriteContract(t, r.file, &contract.Contract{Generation: 1, Resources: []contract.Resource{{
		UID: "broker-uid", Kind: contract.KindBroker, Namespace: "default", Name: "default",
		Topic: topic, BootstrapServers: servers, Ingress: &contract.Ingress{Path: "/default/default"},
		Egresses: []contract.Egress{eg},
	}}})
	r.ingress = r.startIngress(proctest.DataPlaneOpts{})
	return r
}

// url is where the load generator posts.
func (r *rig) url() string { return "http://" + r.ingress.Ingress + "/default/default" }

// startIngress starts an ingress process (on o's addresses, to restart one in place) and waits
// until it serves the broker.
func (r *rig) startIngress(o proctest.DataPlaneOpts) *proctest.DataPlane {
	r.t.Helper()
	p := proctest.StartDataPlane(r.t, binary, "ingress", r.file, o)
	p.WaitReady(r.t, 1, []string{"broker-uid"}, nil)
	return p
}

// restartIngress starts the ingress again on the addresses of the one that was killed.
func (r *rig) restartIngress() {
	r.t.Helper()
	r.ingress = r.startIngress(proctest.DataPlaneOpts{Admin: r.ingress.Admin, Ingress: r.ingress.Ingress})
}

// dispatcher starts a dispatcher process and, when wait is set, waits until it serves the trigger
// (its group joined and its start offsets are fixed).
func (r *rig) dispatcher(wait bool) *proctest.DataPlane {
	r.t.Helper()
	p := proctest.StartDataPlane(r.t, binary, "dispatcher", r.file, proctest.DataPlaneOpts{
		Args: []string{"--session-timeout", sessionTimeout.String()}})
	if wait {
		p.WaitReady(r.t, 1, nil, []string{"trigger-uid"})
	}
	return p
}

// finish waits for every accepted event to reach sinks (the rig's subscriber when none are
// given) and the group to commit the topic's end, then counts and reports.
func (r *rig) finish(fault string, lg *ledger, within time.Duration, sinks ...*sink) result {
	r.t.Helper()
	if len(sinks) == 0 {
		sinks = []*sink{r.sub}
	}
	waitDelivered(r.t, lg, within, sinks...)
	res := count(r.t, fault, lg, sinks...)
	if res.lost > 0 {
		explain(r.t, r.servers, r.topic, r.group, res.missingIDs)
		return res
	}
	waitCommittedAtEnd(r.t, r.servers, r.topic, r.group, time.Minute)
	return res
}
