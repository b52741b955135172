// Package dispatcher moves events from Kafka to subscribers: for every egress (Trigger,
// Subscription or KafkaSource) of the routing contract it consumes the resource's topics under
// the egress's consumer group, filters, delivers through a delivery.Sender, routes replies, and
// commits the contiguous prefix of completed offsets. A KafkaSource's records are turned into
// events by cekafka.SourceConverter (kafkasource.go); everyone else's are CloudEvents already.
//
// A Dispatcher follows the contract diff by diff (Apply) and reports per egress whether it really
// serves it (Status). Inside, each egress is a lane fed by a source:
//
//   - shared.go: sharedReader, one per Kafka cluster and topic, feeding the lanes of every Trigger
//     or Subscription of that topic (its followers) from one fetch; a reader group decides which
//     replica reads which partition, each lane commits under its own group, and a lane that falls
//     behind catches up on a client of its own and rejoins. record.go: the shared, reference-
//     counted copy of a record.
//   - source.go: groupSource, a franz-go group consumer of one egress (cooperative-sticky, no
//     autocommit) — KafkaSources, and every egress with SharedReads(false) — that fixes the start
//     offsets of new partitions and hands records to its lane once their bytes are acquired from
//     the Dispatcher's memory budget (membudget; memory.go), waiting when it refuses.
//   - lane.go: lane, the per-egress work: ordering (ordered, unordered, key-ordered), the in-flight
//     bound, buffering bounded by pausing fetches, the offsets.Tracker per partition, periodic
//     commits, and revocation that commits what is complete and never touches the partition again.
//   - process.go: processor, one record's path: decode, filter, deliver, reply.
//
// A source and a lane meet only through the partitionSink and upstream interfaces: a lane does
// not know which kind of source feeds it.
package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/delivery"
	"knkafka.dev/data-plane/pkg/dispatcher/membudget"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
)

// Dispatcher runs the egresses of the contract it was last given.
type Dispatcher struct {
	logger  *zap.Logger
	sender  *delivery.Sender
	cfg     config
	metrics *metrics
	// budget bounds the bytes of fetched, unfinished records across all egresses.
	budget *membudget.Budget
	// deliveries bounds the deliveries in flight across all egresses (nil: no bound).
	deliveries *membudget.Budget

	mu      sync.Mutex
	running map[string]*egress // by egress UID
	// readers are the shared readers of the running followers; one without followers is closed
	// at the end of Apply.
	readers map[readerKey]*sharedReader
	// producers are the reply producers, by kafkaconn.Key; one no running egress uses is closed
	// at the end of Apply.
	producers map[string]*kgo.Client
	closed    bool
	closeOnce sync.Once
	closeDone chan struct{}
}

// New returns a Dispatcher that delivers through sender and logs to logger (nil for none).
func New(logger *zap.Logger, sender *delivery.Sender, opts ...Option) *Dispatcher {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxCommitRate > 0 {
		cfg.commitPace = rate.NewLimiter(rate.Limit(cfg.maxCommitRate), cfg.maxCommitRate)
	}
	if cfg.registry == nil {
		cfg.registry = prometheus.NewRegistry()
	}
	cfg.workers = newWorkerPool(maxIdleWorkers)
	m := newMetrics(cfg.registry)
	if sender != nil {
		m.onForget = sender.Forget
	}
	perEgress := cfg.memoryPerEgress
	if perEgress <= 0 {
		perEgress = cfg.memoryBudget / egressShareDivisor
	}
	budget := membudget.New(cfg.memoryBudget, perEgress, func(used int64) { m.bufferedBytes.Set(float64(used)) })
	m.budgetBytes.Set(float64(budget.Limit()))
	var deliveries *membudget.Budget
	if cfg.maxDeliveries > 0 {
		deliveries = membudget.New(int64(cfg.maxDeliveries), 0, nil)
	}
	return &Dispatcher{
		deliveries: deliveries,
		logger:     logger,
		sender:     sender,
		cfg:        cfg,
		metrics:    m,
		budget:     budget,
		running:    map[string]*egress{},
		readers:    map[readerKey]*sharedReader{},
		producers:  map[string]*kgo.Client{},
		closeDone:  make(chan struct{}),
	}
}

type wanted struct {
	res  *contract.Resource
	eg   *contract.Egress
	hash string
	// sec is the resource's Security, cluster its kafkaconn.Key; secErr why there is none.
	sec     *kafkaconn.Security
	cluster string
	secErr  error
}

// Apply makes the running egresses those of c: an egress whose UID and hash (its config and its
// resource's topic and cluster) are unchanged keeps running untouched; a changed one is stopped
// and started again; a removed one is stopped after committing its completed work; a new one is
// started. Stops happen before starts (in parallel, bounded by ctx); starts return at once and
// Status tells when they serve. An error lists egresses that could not be started, except those
// whose resource's Security cannot be built: Status alone reports them.
func (d *Dispatcher) Apply(ctx context.Context, c *contract.Contract) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("dispatcher is closed")
	}
	want := map[string]wanted{}
	if c != nil {
		for i := range c.Resources {
			res := &c.Resources[i]
			if len(res.Egresses) == 0 {
				continue
			}
			sec, secErr := d.security(res)
			cluster := kafkaconn.Key(res.BootstrapServers, sec)
			for j := range res.Egresses {
				eg := &res.Egresses[j]
				want[eg.UID] = wanted{res: res, eg: eg, hash: egressHash(res, eg, cluster), sec: sec, cluster: cluster, secErr: secErr}
			}
		}
	}
	var stopping []*egress
	for uid, e := range d.running {
		if w, ok := want[uid]; !ok || w.hash != e.hash {
			stopping = append(stopping, e)
			delete(d.running, uid)
		}
	}
	stopAll(ctx, stopping)

	var errs []error
	for uid, w := range want {
		if _, ok := d.running[uid]; ok {
			continue
		}
		e, err := d.startEgress(w)
		if err != nil {
			errs = append(errs, fmt.Errorf("egress %s/%s (%s): %w", w.eg.Namespace, w.eg.Name, uid, err))
		}
		d.running[uid] = e
	}
	d.closeUnusedProducers()
	d.closeIdleReaders()
	return errors.Join(errs...)
}

// security resolves res's Security with WithSecurity's function.
func (d *Dispatcher) security(res *contract.Resource) (*kafkaconn.Security, error) {
	if d.cfg.security != nil {
		return d.cfg.security(res)
	}
	if refs := kafkaauth.ResourceRefs(res); len(refs) > 0 {
		return nil, fmt.Errorf("%w: this dispatcher reads no Secrets", kafkaconn.SecretNotFound(refs[0].String()))
	}
	return nil, nil
}

// closeUnusedProducers closes the reply producers no running egress uses: the ones of removed
// clusters and of credentials that were rotated. Apply stopped the egresses that used them
// before starting their successors, so nothing is in flight on them.
func (d *Dispatcher) closeUnusedProducers() {
	used := map[string]bool{}
	for _, e := range d.running {
		if e.replyKey != "" {
			used[e.replyKey] = true
		}
	}
	for key, p := range d.producers {
		if !used[key] {
			p.Close()
			delete(d.producers, key)
		}
	}
}

// closeIdleReaders closes the shared readers that have no followers left, leaving their reader
// groups so that the other replicas take over their partitions.
func (d *Dispatcher) closeIdleReaders() {
	var idle []*sharedReader
	for k, r := range d.readers {
		if r.empty() {
			idle = append(idle, r)
			delete(d.readers, k)
		}
	}
	var wg sync.WaitGroup
	for _, r := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.close()
		}()
	}
	wg.Wait()
}

func stopAll(ctx context.Context, es []*egress) {
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stop(ctx)
		}()
	}
	wg.Wait()
}

// startEgress starts w. When w cannot run it returns an egress that only reports why.
func (d *Dispatcher) startEgress(w wanted) (*egress, error) {
	label := w.eg.Namespace + "/" + w.eg.Name
	logger := d.logger.With(zap.String("egress", label), zap.String("resource", w.res.Namespace+"/"+w.res.Name))
	e := &egress{uid: w.eg.UID, hash: w.hash, logger: logger}
	fail := func(err error) (*egress, error) {
		// No hash: the next Apply tries again (a Secret may have appeared meanwhile).
		e.invalid, e.invalidReason, e.hash = err.Error(), ReasonInvalidEgress, ""
		if reason, ok := kafkaconn.ReasonOf(err); ok {
			e.invalidReason = string(reason)
		}
		return e, err
	}
	if err := validate(w); err != nil {
		return fail(err)
	}
	if w.secErr != nil {
		// Status reports it; the contract is applied all the same, so that the other egresses'
		// owners can become Ready.
		e, err := fail(w.secErr)
		logger.Warn("egress not started: its Kafka credentials", zap.Error(err))
		return e, nil
	}
	decode, err := recordDecoder(w.res)
	if err != nil {
		return fail(err)
	}
	kopts, err := kafkaconn.Opts(w.res.BootstrapServers, w.sec)
	if err != nil {
		return fail(err)
	}
	if d.cfg.kafkaOpts != nil {
		extra, err := d.cfg.kafkaOpts(w.res)
		if err != nil {
			return fail(fmt.Errorf("kafka client options: %w", err))
		}
		kopts = append(kopts, extra...)
	}
	var replies producer
	if w.eg.Reply.Kind == contract.ReplyTopic {
		p, err := d.producer(w.cluster, kopts)
		if err != nil {
			return fail(err)
		}
		replies, e.replyKey = p, w.cluster
	}
	e.metrics = d.metrics.forEgress(label)
	proc, err := newProcessor(logger, w.res, w.eg, label, d.sender, replies, e.metrics)
	if err != nil {
		e.metrics.forget()
		return fail(err)
	}
	e.proc = proc
	e.proc.halt = e.halt
	e.proc.decode = decode
	e.bytes = d.budget.Open()
	if d.deliveries != nil {
		e.units = d.deliveries.Open()
	}
	order := w.eg.Order
	if order == "" {
		order = contract.Unordered
	}
	if d.cfg.sharedReads && w.res.Source == nil && w.res.Topic != "" {
		key := readerKey{cluster: w.cluster, topic: w.res.Topic}
		r := d.readers[key]
		if r == nil {
			r = newSharedReader(d.logger, key, w.res, kopts, &d.cfg, d.budget.OpenWithCap(0), d.metrics)
			d.readers[key] = r
		}
		e.fol = r.newFollower(logger, w.eg, e.bytes)
		e.lane = newLane(logger, order, e.proc, e.fol, e.metrics, &d.cfg, w.eg.MaxInFlight, e.bytes)
		e.fol.lane = e.lane
	} else {
		e.src = newGroupSource(logger, w.res, w.eg, kopts, &d.cfg)
		e.src.bytes = e.bytes
		e.lane = newLane(logger, order, e.proc, e.src, e.metrics, &d.cfg, w.eg.MaxInFlight, e.bytes)
		e.src.sink = e.lane
	}
	e.lane.units = e.units
	e.start()
	logger.Info("egress started", zap.String("group", w.eg.ConsumerGroup), zap.Strings("topics", w.res.ReadTopics()),
		zap.String("order", string(order)))
	return e, nil
}

// validate says why w cannot run, or nil.
func validate(w wanted) error {
	switch {
	case w.eg.ConsumerGroup == "":
		return errors.New("no consumer group")
	case w.eg.Destination == "":
		return errors.New("no destination")
	case len(w.res.ReadTopics()) == 0:
		return errors.New("resource has no topic")
	case len(w.res.BootstrapServers) == 0:
		return errors.New("resource has no bootstrap servers")
	case w.eg.Reply.Kind == contract.ReplyURL && w.eg.Reply.URL == "":
		return errors.New("reply kind url without a url")
	case w.eg.Reply.Kind == contract.ReplyTopic && w.res.Topic == "":
		return errors.New("reply kind topic on a resource without a topic")
	case w.res.Source != nil && w.eg.Reply.Kind != contract.ReplyDiscard && w.eg.Reply.Kind != "":
		return fmt.Errorf("a KafkaSource discards replies; reply kind %q", w.eg.Reply.Kind)
	}
	switch w.eg.InitialOffset {
	case "", contract.OffsetLatest, contract.OffsetEarliest:
		return nil
	default:
		return fmt.Errorf("unknown initial offset %q", w.eg.InitialOffset)
	}
}

// producer returns the reply producer of the cluster and credentials key (kafkaconn.Key), shared
// by the egresses that reach that cluster with those credentials; kopts are its seed brokers,
// TLS and SASL options.
func (d *Dispatcher) producer(key string, kopts []kgo.Opt) (*kgo.Client, error) {
	if p, ok := d.producers[key]; ok {
		return p, nil
	}
	p, err := kgo.NewClient(append([]kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.WithLogger(kzap.New(d.logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	}, kopts...)...)
	if err != nil {
		return nil, fmt.Errorf("reply producer: %w", err)
	}
	d.producers[key] = p
	return p, nil
}

// Status reports, per egress UID of the last applied contract, whether this dispatcher serves it:
// Ready once its consumer group is joined and the start offsets of its partitions are fixed.
func (d *Dispatcher) Status() map[string]contract.ServingStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]contract.ServingStatus, len(d.running))
	for uid, e := range d.running {
		out[uid] = e.status()
	}
	return out
}

// Close stops every egress — committing completed work and leaving the groups — within ctx, and
// closes the reply producers. It is idempotent; later calls wait for the first.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		es := make([]*egress, 0, len(d.running))
		for _, e := range d.running {
			es = append(es, e)
		}
		d.running = map[string]*egress{}
		ps := d.producers
		d.producers = map[string]*kgo.Client{}
		d.mu.Unlock()
		stopAll(ctx, es)
		d.mu.Lock()
		d.closeIdleReaders()
		d.mu.Unlock()
		for _, p := range ps {
			p.Close()
		}
		d.cfg.workers.close()
		close(d.closeDone)
	})
	select {
	case <-d.closeDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
