// Package fanoutprof holds a benchmark for profiling the dispatcher's fan-out in one process. It
// lives outside data-plane/ so that make bench's micro-benchmarks (every package there with a
// Benchmark function) do not run it: it needs a Kafka broker and takes a minute.
package fanoutprof

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/delivery"
	"knkafka.dev/data-plane/pkg/dispatcher"
	"knkafka.dev/test/kafkatest"
)

// BenchmarkFanOutDrain is make bench's fan-out step in one process, for profiling
// (-cpuprofile, -memprofile): one Broker topic of 10 partitions, 1,000 Triggers each filtering
// one of 10 event types, a backlog of 2,000 events (200,000 deliveries) drained through a shared
// reader into an in-process subscriber. It reports the drain's deliveries per second and, sampled
// while it drains, the peak goroutines, heap in use and goroutine stacks. b.N is not used: each
// run is one drain.
func BenchmarkFanOutDrain(b *testing.B) {
	const (
		types      = 10
		partitions = 10
	)
	// FANOUTPROF_TRIGGERS and FANOUTPROF_EVENTS change the size; one Trigger takes every event.
	triggers, events := envInt(b, "FANOUTPROF_TRIGGERS", 1000), envInt(b, "FANOUTPROF_EVENTS", 2000)
	servers := kafkatest.Bootstrap(b)
	topic := kafkatest.CreateTopic(b, servers, partitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, events)
	for i := range events {
		r, err := cekafka.Encode(newEvent("e-"+strconv.Itoa(i), "t"+strconv.Itoa(i%types)))
		if err != nil {
			b.Fatal(err)
		}
		r.Topic, r.Partition = topic, int32(i%partitions)
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n++ {
		var delivered atomic.Int64
		sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			delivered.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		logger := zap.NewNop()
		var fetched fetchCounter
		d := dispatcher.New(logger, delivery.NewSender(logger), dispatcher.WithKafkaOpts(func(*contract.Resource) ([]kgo.Opt, error) {
			return []kgo.Opt{kgo.WithHooks(&fetched)}, nil
		}))
		egs := make([]contract.Egress, triggers)
		uids := make([]string, triggers)
		for i := range egs {
			name := fmt.Sprintf("t%d-%04d", n, i)
			egs[i] = contract.Egress{
				UID: "uid-" + name, Kind: contract.KindTrigger, Namespace: "test", Name: name,
				ConsumerGroup: topic + "-" + name, Destination: sub.URL + "/" + strconv.Itoa(i),
				Reply: contract.Reply{Kind: contract.ReplyDiscard}, Order: contract.Unordered,
				InitialOffset: contract.OffsetEarliest,
			}
			if triggers > 1 {
				egs[i].Filter = &contract.Filter{Attributes: map[string]string{"type": "t" + strconv.Itoa(i%types)}}
			}
			uids[i] = egs[i].UID
		}
		b.ResetTimer()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := d.Apply(ctx, newContract(servers, topic, egs...)); err != nil {
			b.Fatal(err)
		}
		var peakG int
		var peakHeap, peakStack uint64
		var ms runtime.MemStats
		want := int64(events)
		if triggers > 1 {
			want = int64(triggers / types * events)
		}
		// When the first delivery, half of them and nine in ten had arrived (to the sampling's
		// 100 ms): a long tail after 90 % means lanes finishing unevenly.
		fractions := []float64{0.001, 0.5, 0.9}
		reached := make([]time.Duration, len(fractions))
		for delivered.Load() < want {
			if ctx.Err() != nil {
				b.Fatalf("delivered %d of %d before the timeout", delivered.Load(), want)
			}
			time.Sleep(100 * time.Millisecond)
			for i, f := range fractions {
				if reached[i] == 0 && float64(delivered.Load()) >= f*float64(want) {
					reached[i] = time.Since(start)
				}
			}
			peakG = max(peakG, runtime.NumGoroutine())
			runtime.ReadMemStats(&ms)
			peakHeap, peakStack = max(peakHeap, ms.HeapInuse), max(peakStack, ms.StackInuse)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(reached[0].Seconds(), "first-s")
		b.ReportMetric(reached[1].Seconds(), "half-s")
		b.ReportMetric(reached[2].Seconds(), "nine-tenths-s")
		b.ReportMetric(elapsed.Seconds(), "all-s")
		b.ReportMetric(float64(fetched.records.Load())/float64(events), "records-fetched/event")
		b.ReportMetric(float64(peakG), "peak-goroutines")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakStack)/(1<<20), "peak-stack-MiB")
		if err := d.Close(ctx); err != nil {
			b.Error(err)
		}
		cancel()
		sub.Close()
	}
}

func newEvent(id, typ string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/fanoutprof")
	if err := e.SetData("application/json", map[string]string{"id": id}); err != nil {
		panic(err)
	}
	return &e
}

func newContract(servers []string, topic string, egs ...contract.Egress) *contract.Contract {
	return &contract.Contract{
		SchemaVersion: contract.SchemaVersion,
		Generation:    1,
		Resources: []contract.Resource{{
			UID: "broker-uid", Kind: contract.KindBroker, Namespace: "test", Name: "broker",
			Topic: topic, BootstrapServers: servers, Egresses: egs,
		}},
	}
}

// envInt is the positive integer in the environment variable name, or def when it is unset.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// fetchCounter counts the records the dispatcher's clients read from fetch responses: more than
// the backlog means some were fetched again (a paused partition's buffered fetch is dropped).
type fetchCounter struct{ records atomic.Int64 }

func (c *fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	c.records.Add(int64(m.NumRecords))
}
