// Package kafkatest gives tests a Kafka to talk to: Bootstrap returns the real Apache Kafka broker
// that `make test` starts (hack/kafka.sh), StartCluster launches a private real cluster a test may
// stop and restart (fault tests), StartSecured launches a private node with SASL_PLAINTEXT, SSL,
// mTLS and SASL_SSL listeners (Secured, with its CA and users), and Fake starts an in-process
// kfake cluster for fast unit tests.
// ConsoleProduce and ConsoleProduceKeyed write records with Kafka's own console producer, as users
// do, and RunTool runs any other of Kafka's command-line tools from the same jars.
//
// A test that needs real Kafka fails — it never skips — when none is reachable, and says how to
// start one.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBootstrap is the environment variable that carries the real broker's address.
const EnvBootstrap = "KAFKA_BOOTSTRAP_SERVERS"

var (
	readyOnce sync.Once
	readyErr  error
	topicSeq  atomic.Int64
)

// Bootstrap returns the bootstrap servers of the real Kafka broker that `make test` started, after
// checking that it answers and that its group coordinator is ready.
func Bootstrap(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(EnvBootstrap)
	if v == "" {
		t.Fatalf("this test needs a real Kafka broker and %s is not set.\n"+
			"Run the tests with `make test`, or start one with `eval \"$(hack/kafka.sh start)\"; export %s`.",
			EnvBootstrap, EnvBootstrap)
	}
	servers := strings.Split(v, ",")
	readyOnce.Do(func() { readyErr = WaitReady(context.Background(), servers, 90*time.Second) })
	if readyErr != nil {
		t.Fatalf("Kafka at %s is not usable: %v\nIs it running? `hack/kafka.sh status` tells; `make test` starts one.", v, readyErr)
	}
	return servers
}

// WaitReady waits until the cluster answers metadata requests and can coordinate consumer groups
// (a new broker answers NOT_COORDINATOR until __consumer_offsets exists).
func WaitReady(ctx context.Context, servers []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last error
	for {
		if _, err := adm.BrokerMetadata(ctx); err != nil {
			last = fmt.Errorf("metadata: %w", err)
		} else {
			resp := adm.FindGroupCoordinators(ctx, "kafkatest-probe")
			err := resp.Error()
			if len(resp) == 0 {
				err = errors.New("no coordinator answer")
			}
			if err == nil {
				return nil
			}
			last = fmt.Errorf("group coordinator: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Version is the Kafka version `make test` runs, or "unknown".
func Version() string {
	if v := os.Getenv("KAFKA_VERSION"); v != "" {
		return v
	}
	return "unknown"
}

// TopicName returns a topic name unique to this test run.
func TopicName(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_", ",", "_", "=", "_", "(", "_", ")", "_", "'", "_", "\"", "_").Replace(t.Name())
	if len(name) > 150 {
		name = name[:150]
	}
	return fmt.Sprintf("test.%s.%d.%d", name, time.Now().UnixNano(), topicSeq.Add(1))
}

// CreateTopic creates a topic with the given partitions on servers and deletes it when the test ends.
func CreateTopic(t testing.TB, servers []string, partitions int32) string {
	t.Helper()
	return CreateReplicatedTopic(t, servers, partitions, 1, nil)
}

// CreateReplicatedTopic is CreateTopic with a replication factor and topic configs (nil for none),
// e.g. min.insync.replicas on a three-node cluster.
func CreateReplicatedTopic(t testing.TB, servers []string, partitions int32, replication int16, configs map[string]*string) string {
	t.Helper()
	topic := TopicName(t)
	adm := Admin(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, replication, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("creating topic %q: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topic)
	})
	if err := WaitTopic(ctx, adm, topic, partitions); err != nil {
		t.Fatal(err)
	}
	return topic
}

// WaitTopic waits until every partition of topic has a leader in the cluster's metadata.
func WaitTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err == nil {
			d := details[topic]
			led := 0
			for _, p := range d.Partitions {
				if p.Err == nil && p.Leader >= 0 {
					led++
				}
			}
			if d.Err == nil && led == int(partitions) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %q did not get %d led partitions: %w", topic, partitions, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Admin returns a kadm client for servers, closed when the test ends.
func Admin(t testing.TB, servers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// Fake starts an in-process kfake cluster for unit tests and returns its bootstrap servers.
func Fake(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}
