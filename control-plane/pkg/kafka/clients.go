package kafka

import (
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"knkafka.dev/kafkaconn"
)

// Clients caches one Kafka client per cluster and credentials, keyed by kafkaconn.Key (bootstrap
// servers in any order, and the effective TLS/SASL settings), so reconcilers do not dial a cluster
// on every pass and a rotated credential gets a new client. A client no reconcile asked for
// within IdleTimeout — the one of a password since rotated, or of a Secret fixed since — is closed
// the next time the cache is used, so rotations do not pile up clients (and their metadata
// refreshes with stale credentials). It is safe for concurrent use.
type Clients struct {
	log  *zap.Logger
	opts []kgo.Opt
	// IdleTimeout is how long an unused client is kept; set it before first use.
	IdleTimeout time.Duration
	now         func() time.Time

	mu      sync.Mutex
	clients map[string]*cachedClient
	closed  bool
}

type cachedClient struct {
	cl       *kgo.Client
	lastUsed time.Time
}

// DefaultIdleTimeout is Clients.IdleTimeout unless set: far longer than any reconcile holds a
// client it got from the cache, far shorter than a controller's life.
const DefaultIdleTimeout = 15 * time.Minute

// NewClients returns an empty cache whose clients log to log (nil discards) and are built with
// opts in addition to the seed brokers.
func NewClients(log *zap.Logger, opts ...kgo.Opt) *Clients {
	if log == nil {
		log = zap.NewNop()
	}
	return &Clients{log: log, opts: opts, IdleTimeout: DefaultIdleTimeout, now: time.Now, clients: map[string]*cachedClient{}}
}

// Get returns the admin client of the cluster with the given bootstrap servers reached with sec
// (nil for PLAINTEXT), creating it on first use. The client belongs to the cache: do not close it.
func (c *Clients) Get(servers []string, sec *kafkaconn.Security) (*kadm.Client, error) {
	cl, err := c.client(servers, sec)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// Admin returns an Admin of the cluster with the given bootstrap servers reached with sec (nil
// for PLAINTEXT).
func (c *Clients) Admin(servers []string, sec *kafkaconn.Security) (*Admin, error) {
	cl, err := c.client(servers, sec)
	if err != nil {
		return nil, err
	}
	return NewAdmin(cl, c.log), nil
}

func (c *Clients) client(servers []string, sec *kafkaconn.Security) (*kgo.Client, error) {
	base, err := kafkaconn.Opts(servers, sec)
	if err != nil {
		return nil, err
	}
	key := kafkaconn.Key(servers, sec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, kgo.ErrClientClosed
	}
	now := c.now()
	for k, cc := range c.clients {
		if k != key && now.Sub(cc.lastUsed) > c.IdleTimeout {
			cc.cl.Close()
			delete(c.clients, k)
		}
	}
	if cc, ok := c.clients[key]; ok {
		cc.lastUsed = now
		return cc.cl, nil
	}
	base = append(base, kgo.WithLogger(kzap.New(c.log.With(
		zap.String("bootstrapServers", strings.Join(kafkaconn.Servers(servers), ",")),
		zap.Stringer("security", sec)))))
	base = append(base, c.opts...)
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, err
	}
	c.clients[key] = &cachedClient{cl: cl, lastUsed: now}
	return cl, nil
}

// Close closes every cached client; Get fails afterwards. It is idempotent.
func (c *Clients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cc := range c.clients {
		cc.cl.Close()
		delete(c.clients, k)
	}
	c.closed = true
}
