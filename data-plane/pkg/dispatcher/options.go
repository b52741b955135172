package dispatcher

import (
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/kafkaauth"
)

// config holds the Dispatcher's settings; Option sets them.
type config struct {
	maxInFlight            int
	maxBuffered            int
	fetchMaxWait           time.Duration
	commitInterval         time.Duration
	drainTimeout           time.Duration
	retryInterval          time.Duration
	sessionTimeout         time.Duration
	fetchMaxBytes          int32
	fetchMaxPartitionBytes int32
	// sharedReads feeds the egresses of a Broker or KafkaChannel from one reader per topic
	// (shared.go); maxDetached bounds the catch-up clients of one reader.
	sharedReads bool
	maxDetached int
	// maxDeliveries bounds deliveries in flight across all egresses (see MaxDeliveries).
	maxDeliveries int
	// maxCommitRate bounds the periodic commit requests a second across the process (0: none);
	// commitPace enforces it, shared by every lane (set by New).
	maxCommitRate int
	commitPace    *rate.Limiter
	// workers runs deliveries (set by New; nil: a goroutine each).
	workers *workerPool
	// readerEvents, when set, observes shared readers (tests).
	readerEvents         func(readerEvent)
	maxPollRecords       int
	maxConcurrentFetches int
	memoryBudget         int64
	memoryPerEgress      int64
	registry             prometheus.Registerer
	kafkaOpts            func(*contract.Resource) ([]kgo.Opt, error)
	security             kafkaauth.Func
}

func defaultConfig() config {
	return config{
		maxInFlight:            100,
		maxBuffered:            1000,
		commitInterval:         time.Second,
		drainTimeout:           5 * time.Second,
		retryInterval:          time.Second,
		fetchMaxBytes:          1 << 20,
		fetchMaxPartitionBytes: 256 << 10,
		maxPollRecords:         100,
		maxConcurrentFetches:   1,
		fetchMaxWait:           200 * time.Millisecond,
		sharedReads:            true,
		maxDetached:            16,
		maxDeliveries:          1000,
		maxCommitRate:          200,
		memoryBudget:           defaultMemoryBudget(debug.SetMemoryLimit(-1)),
	}
}

// Memory budget defaults: a quarter of the Go memory limit (GOMEMLIMIT, which config/ sets to the
// container's limit), at most 256 MiB; the rest of the limit covers what franz-go buffers per
// egress beside the budget, the clients themselves and the collector's headroom. Each egress may
// hold at most a sixteenth of the budget.
const (
	maxDefaultMemoryBudget = 256 << 20
	minDefaultMemoryBudget = 16 << 20
	egressShareDivisor     = 16
)

// defaultMemoryBudget is the budget a Go memory limit of memLimit implies (math.MaxInt64: none).
func defaultMemoryBudget(memLimit int64) int64 {
	return min(max(memLimit/4, minDefaultMemoryBudget), maxDefaultMemoryBudget)
}

// Option configures a Dispatcher.
type Option func(*config)

// MaxInFlight bounds concurrent deliveries per Unordered or KeyOrdered egress whose MaxInFlight
// is 0; the default is 100.
func MaxInFlight(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxInFlight = n
		}
	}
}

// MaxBufferedRecords bounds the records fetched and not yet completed per assigned partition of
// an egress; above it the partition's fetching pauses until half of them completed. The default
// is 1000. The process-wide bound on buffered bytes is MemoryBudget.
func MaxBufferedRecords(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBuffered = n
		}
	}
}

// CommitInterval is how often each egress commits its completed offsets; the default is 1s.
func CommitInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.commitInterval = d
		}
	}
}

// DrainTimeout is how long in-flight deliveries of a revoked partition or a stopping egress may
// finish before they are cancelled (and left uncommitted); the default is 5s. Keep it well under
// the group's rebalance timeout (60s).
func DrainTimeout(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.drainTimeout = d
		}
	}
}

// RetryInterval is how often an egress whose topic is missing or whose Kafka is unreachable
// tries again; the default is 1s.
func RetryInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.retryInterval = d
		}
	}
}

// SessionTimeout sets the consumer group session timeout; the default is franz-go's (45s).
func SessionTimeout(d time.Duration) Option {
	return func(c *config) { c.sessionTimeout = d }
}

// FetchMaxBytes bounds one fetch response of an egress's consumer, and of each partition in it;
// the defaults are 1 MiB and 256 KiB. With MaxConcurrentFetches they bound what franz-go buffers
// per egress beside the memory budget (a record batch larger than the bound still comes whole). A partition fetch stays well under MaxBufferedRecords of
// typical events, so fetching flows instead of pausing after every response (franz-go drops a
// paused partition's buffered data and fetches it again on resume).
func FetchMaxBytes(total, perPartition int32) Option {
	return func(c *config) {
		if total > 0 {
			c.fetchMaxBytes = total
		}
		if perPartition > 0 {
			c.fetchMaxPartitionBytes = perPartition
		}
	}
}

// WithRegistry registers the dispatcher's metrics with r; by default they go to a private
// registry nobody scrapes.
func WithRegistry(r prometheus.Registerer) Option {
	return func(c *config) { c.registry = r }
}

// WithKafkaOpts adds client options for a resource's Kafka cluster, such as tuning in tests.
// TLS and SASL come from WithSecurity.
func WithKafkaOpts(f func(*contract.Resource) ([]kgo.Opt, error)) Option {
	return func(c *config) { c.kafkaOpts = f }
}

// WithSecurity resolves the TLS and SASL settings of each resource's clients — consumers, reply
// producers and KafkaSource readers — (kafkaauth.Resolve over the data plane's Secrets). The
// settings' kafkaconn.Key is part of an egress's identity, so a rotated Secret restarts the
// egresses of its resources with the new credentials, resuming from their committed offsets.
// Without it an egress whose resource references a Secret does not run: the dispatcher has no
// way to read it.
func WithSecurity(f kafkaauth.Func) Option { return func(c *config) { c.security = f } }

// FetchMaxWait bounds how long the broker holds an egress's fetch when its partitions have no new
// data; the default is 200ms (Kafka's Java consumer uses 500ms). It is also how long a partition
// whose fetching was paused (MaxBufferedRecords) can wait after it is resumed: franz-go adds it
// only to the next fetch, and the one in flight may be held by partitions that are caught up.
// Measured on a 50,000-event backlog: 500ms drained at 0.65x a bare HTTP client, 200ms at 0.86x.
// The cost is idle fetch requests: up to 1/FetchMaxWait per second per egress.
func FetchMaxWait(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.fetchMaxWait = d
		}
	}
}

// MaxConcurrentFetches bounds the fetch requests of one egress's consumer that are in flight or
// buffered at once; the default is 1, so that franz-go holds one fetch response per egress at
// most. More overlap fetches from several brokers for a faster egress, at that many responses
// per egress of memory.
func MaxConcurrentFetches(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxConcurrentFetches = n
		}
	}
}

// MemoryBudget bounds the bytes of records fetched and not yet finished (delivered, dead-lettered
// or dropped, and marked for commit) across all egresses of the Dispatcher, and what one egress
// may hold of it. When the budget is spent an egress stops polling until records are finished.
// The default total is a quarter of the Go memory limit, at most 256 MiB; the default per egress
// is a sixteenth of the total. Values that are not positive keep the defaults.
// docs/reliability.md ("Memory") gives the rules and the process-wide formula.
func MemoryBudget(total, perEgress int64) Option {
	return func(c *config) {
		if total > 0 {
			c.memoryBudget = total
		}
		if perEgress > 0 {
			c.memoryPerEgress = perEgress
		}
	}
}

// SharedReads says whether the egresses of one Broker or KafkaChannel share a reader of its topic
// (the default) or each consume it in a consumer group of its own, as Knative's Kafka broker does.
// docs/architecture.md ("Shared reads") explains the shared reader.
func SharedReads(on bool) Option {
	return func(c *config) { c.sharedReads = on }
}

// MaxDetachedLanes bounds how many egresses of one shared reader may read on their own to catch up
// (a Trigger whose subscriber is slower than the rest, or that starts far behind); the default is
// 16. Beyond it an egress whose buffer is full holds its partition back for the others.
func MaxDetachedLanes(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxDetached = n
		}
	}
}

// MaxCommitRate bounds the periodic offset commits of all egresses of the Dispatcher to n requests
// a second; the default is 200, and 0 removes the bound. Each egress commits at most once a commit
// interval while it advances, one request each: with many egresses advancing at once (1,000
// Triggers draining a backlog) that is a thousand requests a second, and the broker's CPU for
// them was a third of what the drain cost. Beyond the bound the egresses take turns, so each
// commits less often — and after a crash redelivers correspondingly more; nothing is committed
// before it is done. Commits of start offsets (readiness waits for them) and the final commit of a
// revoked partition are not held back.
func MaxCommitRate(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxCommitRate = n
		}
	}
}

// MaxDeliveries bounds the deliveries in flight across all egresses of the Dispatcher; the default
// is 1,000. Each egress still has its own bound (MaxInFlight, or the egress's); beyond those, the
// egresses delivering share this one equally, and an egress with nothing in flight is always
// admitted one delivery, so hanging subscribers cannot stop the others. It bounds the goroutines,
// connections and buffers that deliveries take: measured with 1,000 Triggers draining a backlog,
// per-egress bounds alone let 100,000 requests run at once (1.6 GiB). 0 removes the bound.
func MaxDeliveries(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxDeliveries = n
		}
	}
}
