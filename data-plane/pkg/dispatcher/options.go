package dispatcher

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

// config holds the Dispatcher's settings; Option sets them.
type config struct {
	maxInFlight            int
	maxBuffered            int
	commitInterval         time.Duration
	drainTimeout           time.Duration
	retryInterval          time.Duration
	sessionTimeout         time.Duration
	fetchMaxBytes          int32
	fetchMaxPartitionBytes int32
	maxPollRecords         int
	registry               prometheus.Registerer
	kafkaOpts              func(*contract.Resource) ([]kgo.Opt, error)
}

func defaultConfig() config {
	return config{
		maxInFlight:            100,
		maxBuffered:            1000,
		commitInterval:         time.Second,
		drainTimeout:           5 * time.Second,
		retryInterval:          time.Second,
		fetchMaxBytes:          8 << 20,
		fetchMaxPartitionBytes: 1 << 20,
		maxPollRecords:         500,
	}
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
// is 1000. With FetchMaxBytes it bounds the dispatcher's memory independently of consumer lag.
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
// the defaults are 8 MiB and 1 MiB.
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

// WithKafkaOpts adds client options for a resource's Kafka cluster — TLS and SASL from the
// Secret its Auth names, which the dispatcher itself does not read.
func WithKafkaOpts(f func(*contract.Resource) ([]kgo.Opt, error)) Option {
	return func(c *config) { c.kafkaOpts = f }
}
