package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka is the private single-node Kafka of one run, started with hack/kafka.sh.
type kafka struct {
	script  string
	runDir  string
	servers []string
	version string
	// pids are the broker JVMs and jmxPorts their JMX ports (private Kafka only).
	pids     []int
	jmxPorts []string
	adm      *kadm.Client
	cl       *kgo.Client
}

func (k *kafka) env() []string { return append(os.Environ(), "KNKAFKA_KAFKA_RUN="+k.runDir) }

// startKafka starts a private Kafka whose state lives in runDir.
func startKafka(ctx context.Context, repo, runDir string) (*kafka, error) {
	k := &kafka{script: filepath.Join(repo, "hack", "kafka.sh"), runDir: runDir}
	cmd := exec.CommandContext(ctx, "bash", k.script, "start")
	// JMX open, so the run can read the broker's own count of bytes fetched.
	cmd.Env = append(k.env(), "KNKAFKA_KAFKA_JMX=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		k.stop()
		return nil, fmt.Errorf("hack/kafka.sh start: %w\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "KAFKA_BOOTSTRAP_SERVERS="); ok {
			k.servers = strings.Split(v, ",")
		}
		if v, ok := strings.CutPrefix(sc.Text(), "KAFKA_VERSION="); ok {
			k.version = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "KAFKA_JMX_PORTS="); ok {
			k.jmxPorts = strings.Split(v, ",")
		}
	}
	if k.pids, err = brokerPids(runDir); err != nil {
		k.stop()
		return nil, err
	}
	if len(k.servers) == 0 {
		k.stop()
		return nil, fmt.Errorf("hack/kafka.sh start printed no bootstrap servers:\n%s", out)
	}
	if err := k.connect(); err != nil {
		k.stop()
		return nil, err
	}
	return k, nil
}

// useKafka connects to a Kafka someone else runs.
func useKafka(servers []string) (*kafka, error) {
	k := &kafka{servers: servers, version: "external"}
	return k, k.connect()
}

func (k *kafka) connect() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.servers...))
	if err != nil {
		return err
	}
	k.cl, k.adm = cl, kadm.NewClient(cl)
	return nil
}

// stop stops the Kafka this run started (a no-op for an external one).
func (k *kafka) stop() {
	if k.cl != nil {
		k.cl.Close()
	}
	if k.script == "" {
		return
	}
	cmd := exec.Command("bash", k.script, "stop")
	cmd.Env = k.env()
	_ = cmd.Run()
}

// createTopic creates topic with partitions partitions, waiting until it has leaders.
func (k *kafka) createTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := k.adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return fmt.Errorf("creating topic %q: %w", topic, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("creating topic %q: %w", topic, resp.Err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		md, err := k.adm.Metadata(ctx, topic)
		if err == nil {
			if t, ok := md.Topics[topic]; ok && t.Err == nil && len(t.Partitions) == int(partitions) {
				ready := true
				for _, p := range t.Partitions {
					ready = ready && p.Leader >= 0 && p.Err == nil
				}
				if ready {
					return nil
				}
			}
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return fmt.Errorf("topic %q has no leaders after 30s", topic)
}

// commitStart commits the start of every partition of topic for group, so a group that never
// ran reads the existing backlog instead of starting at the end.
func (k *kafka) commitStart(ctx context.Context, group, topic string) error {
	starts, err := k.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing start offsets of %q: %w", topic, err)
	}
	if err := starts.Error(); err != nil {
		return fmt.Errorf("listing start offsets of %q: %w", topic, err)
	}
	if err := k.adm.CommitAllOffsets(ctx, group, starts.Offsets()); err != nil {
		return fmt.Errorf("committing start offsets for %q: %w", group, err)
	}
	return nil
}

// ProduceResult is what producing a batch of records measured.
type ProduceResult struct {
	Records       int     `json:"records"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	// AckLatency is the produce-to-acknowledgement latency of each record.
	AckLatency Latency `json:"ackLatency"`
}

// produce writes n records made by mk to Kafka with acks=all (franz-go's idempotent default),
// asynchronously with at most 10,000 records in flight, and measures the rate.
func (k *kafka) produce(ctx context.Context, n int, mk func(i int) (*kgo.Record, error)) (ProduceResult, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.servers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(10000), kgo.ProducerLinger(0))
	if err != nil {
		return ProduceResult{}, err
	}
	defer cl.Close()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		r, err := mk(i)
		if err != nil {
			return ProduceResult{}, err
		}
		wg.Add(1)
		sent := time.Now()
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			lat[i] = time.Since(sent)
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if e := firstErr.Load(); e != nil {
		return ProduceResult{}, fmt.Errorf("producing: %w", *e)
	}
	if err := ctx.Err(); err != nil {
		return ProduceResult{}, err
	}
	return ProduceResult{Records: n, Seconds: round(secs, 3), RecordsPerSec: perSecond(float64(n), secs),
		AckLatency: summarize(lat)}, nil
}

// producePaced writes rate records per second for d, one at a time on a ticker, and reports
// the acknowledgement latency: the floor under the ingress's own latency at that rate.
func (k *kafka) producePaced(ctx context.Context, rate int, d time.Duration, mk func(i int) (*kgo.Record, error)) (ProduceResult, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.servers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return ProduceResult{}, err
	}
	defer cl.Close()
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	var firstErr atomic.Pointer[error]
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	n := 0
	for time.Since(start) < d && ctx.Err() == nil {
		<-tick.C
		r, err := mk(n)
		if err != nil {
			return ProduceResult{}, err
		}
		n++
		wg.Add(1)
		sent := time.Now()
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			mu.Lock()
			lat = append(lat, time.Since(sent))
			mu.Unlock()
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if e := firstErr.Load(); e != nil {
		return ProduceResult{}, fmt.Errorf("producing: %w", *e)
	}
	return ProduceResult{Records: n, Seconds: round(secs, 3), RecordsPerSec: perSecond(float64(n), secs),
		AckLatency: summarize(lat)}, nil
}

// ConsumeResult is what reading a topic without delivering measured.
type ConsumeResult struct {
	Records       int     `json:"records"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
}

// consume reads the first n records of topic from the start (no group) and measures the rate.
func (k *kafka) consume(ctx context.Context, topic string, n int) (ConsumeResult, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.servers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(8<<20), kgo.FetchMaxPartitionBytes(1<<20))
	if err != nil {
		return ConsumeResult{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return ConsumeResult{}, fmt.Errorf("consumed %d of %d records: %w", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { _ = err })
		got += fs.NumRecords()
	}
	secs := time.Since(start).Seconds()
	return ConsumeResult{Records: got, Seconds: round(secs, 3), RecordsPerSec: perSecond(float64(got), secs)}, nil
}
