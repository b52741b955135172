package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/pkg/logging"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/delivery"
)

// producer writes reply records; *kgo.Client is one.
type producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// processor handles one record of an egress: decode, filter, deliver, route the reply.
type processor struct {
	logger *zap.Logger
	egress contract.Egress
	label  string
	topic  string // the resource's topic, where ReplyTopic replies go
	filter eventfilter.Filter
	// filterCtx carries the logger Knative's filters log through; without one they build a
	// fallback logger per call.
	filterCtx context.Context
	sender    *delivery.Sender
	// target is where every event of the egress goes, prepared once (delivery.Sender.Prepare).
	target  delivery.Target
	replies producer
	metrics *egressMetrics
	// halt stops the egress after a panic (set by the egress; nil in unit tests).
	halt      func(reason string)
	panicOnce sync.Once
	// decode turns records into events; nil means cekafka.Decode (see kafkasource.go).
	decode func(*kgo.Record) (*event.Event, error)
}

func newProcessor(logger *zap.Logger, res *contract.Resource, eg *contract.Egress, label string, s *delivery.Sender, replies producer, m *egressMetrics) (*processor, error) {
	filter, err := newFilter(logger, eg.Filter)
	if err != nil {
		return nil, err
	}
	return &processor{
		filter:    filter,
		logger:    logger,
		egress:    *eg,
		label:     label,
		topic:     res.Topic,
		filterCtx: logging.WithLogger(context.Background(), logger.Sugar()),
		sender:    s,
		target: s.Prepare(delivery.Target{
			URL:        eg.Destination,
			DeadLetter: eg.DeadLetter,
			Delivery:   eg.Delivery,
			Namespace:  eg.Namespace,
			Egress:     label,
		}),
		replies: replies,
		metrics: m,
	}, nil
}

// close releases the filter's goroutines. A panic in Knative's cleanup is logged, never passed on:
// the egress is going away either way.
func (p *processor) close() {
	if p.filter == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.logger.Error("cleaning up a filter panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	p.filter.Cleanup()
}

// screen reports whether a record of a shared reader may need delivering: false when it is not a
// CloudEvent or the egress's filter drops it — counted, as process would, and complete — so that
// the lane's push skips it (never queued, no worker woken, no in-flight slot). With many Triggers
// filtering one topic most records are dropped by most lanes, and this is where. Records a lane
// owns alone, and anything that panics, go through process as before.
func (p *processor) screen(r *kgo.Record) (wanted bool) {
	if p.decode != nil || sharedOf(r) == nil {
		return true
	}
	defer func() {
		if v := recover(); v != nil {
			wanted = true // process meets it again and halts the egress
		}
	}()
	return p.wanted(r) != nil
}

// wanted decodes r and applies the egress's filter: it returns the event to deliver, or nil for
// a record that needs no delivery — not a CloudEvent (retrying cannot fix that; it is skipped
// loudly) or dropped by the filter — counted by outcome.
func (p *processor) wanted(r *kgo.Record) *event.Event {
	e, err := p.decodeRecord(r)
	if err != nil {
		p.logger.Warn("skipping a record that is not a CloudEvent", zap.String("topic", r.Topic),
			zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
		p.metrics.outcome(outcomeUndecodable)
		return nil
	}
	if !p.passes(e) {
		p.metrics.outcome(outcomeFiltered)
		return nil
	}
	return e
}

// passes applies the egress's filter to e.
func (p *processor) passes(e *event.Event) bool {
	switch f := p.filter.(type) {
	case nil:
		return true
	case exactFilter:
		return f.matches(e)
	default:
		return f.Filter(p.filterCtx, *e) != eventfilter.FailFilter
	}
}

// process handles r and reports whether its offset may be committed: true when the event was
// delivered (and its reply routed), dead-lettered, filtered out, undecodable, or failed for good
// (retries exhausted and no dead-letter sink, or the sink refused it with a non-retryable answer:
// delivery logged and counted it; a sink that is down is retried until it takes the event or ctx
// ends); false only when ctx ended the work (revocation, shutdown), so the record is delivered
// again by whoever consumes the partition next.
func (p *processor) process(ctx context.Context, r *kgo.Record) (completed bool) {
	defer func() {
		if v := recover(); v != nil {
			completed = false
			p.panicked(r, v)
		}
	}()
	e := p.wanted(r)
	if e == nil {
		return true
	}
	t := p.target
	var res delivery.Result
	if enc := p.encoded(r, e); enc != nil {
		// The encoding carries the record's trace headers, made once for every lane.
		res = p.sender.DeliverEncoded(ctx, enc, t)
	} else {
		t.Header = traceHeader(r)
		res = p.sender.Deliver(ctx, e, t)
	}
	if res.Outcome == delivery.Failed && ctx.Err() != nil {
		return false
	}
	p.metrics.outcome(res.Outcome.String())
	if res.Outcome != delivery.Delivered || res.Reply == nil {
		return true
	}
	if t.Header == nil {
		t.Header = traceHeader(r) // the reply carries the trace context on
	}
	return p.reply(ctx, e, res.Reply, t)
}

// encoded returns e, the event of r, encoded once for every lane that delivers it (see
// sharedRecord.encoded); nil for a record this lane reads alone, for a KafkaSource's (each source
// makes its own event of a record), or when the encoding has another namespace than this lane's
// (lanes of different namespaces reading one topic).
func (p *processor) encoded(r *kgo.Record, e *event.Event) *delivery.Encoded {
	if p.decode != nil {
		return nil
	}
	sr := sharedOf(r)
	if sr == nil {
		return nil
	}
	if enc := sr.encoded(e, p.target.Namespace); enc != nil && enc.Namespace() == p.target.Namespace {
		return enc
	}
	return nil
}

// traceHeader is r's trace context (traceparent, tracestate) as request headers; nil without any.
func traceHeader(r *kgo.Record) http.Header {
	tp, ts := cekafka.TraceHeaders(r)
	if tp == "" && ts == "" {
		return nil
	}
	h := http.Header{}
	if tp != "" {
		h.Set(cekafka.HeaderTraceParent, tp)
	}
	if ts != "" {
		h.Set(cekafka.HeaderTraceState, ts)
	}
	return h
}

// reply routes a subscriber's reply, retried as deliveries are. A reply that cannot be routed
// makes the event itself undelivered: it goes to the dead-letter sink with the error extensions
// naming the reply's destination (or, without one, is logged and counted), rather than being
// committed with its reply silently dropped. It returns false only when ctx ended the work, so
// the event and its reply are redelivered.
func (p *processor) reply(ctx context.Context, e, reply *event.Event, t delivery.Target) bool {
	var (
		dest string
		code int
		err  error
	)
	switch p.egress.Reply.Kind {
	case contract.ReplyTopic:
		dest = "kafka topic " + p.topic
		err = p.produceReply(ctx, reply, t.Header)
	case contract.ReplyURL:
		dest = p.egress.Reply.URL
		if res := p.sender.Send(ctx, reply, dest, p.egress.Delivery, t.Header); res.Outcome == delivery.Failed {
			code, err = res.StatusCode, res.Err
		}
	default:
		return true
	}
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	p.metrics.outcome(outcomeReplyFailed)
	res := p.sender.DeadLetterReply(ctx, e, t, dest, code, err)
	return res.Outcome != delivery.Failed || ctx.Err() == nil
}

// produceReply writes reply to the resource's topic, retrying a failed produce with the egress's
// retry count and backoff. franz-go already retries what Kafka calls retriable within one
// produce, so a failure here outlasted that; an event that cannot be encoded is not retried.
func (p *processor) produceReply(ctx context.Context, reply *event.Event, h http.Header) error {
	rec, err := cekafka.EncodeValidated(reply) // delivery only returns validated replies
	if err != nil {
		return fmt.Errorf("encoding the reply: %w", err)
	}
	rec.Topic = p.topic
	cekafka.SetTraceHeaders(rec, h.Get(cekafka.HeaderTraceParent), h.Get(cekafka.HeaderTraceState))
	d := p.egress.Delivery
	for n := 0; ; n++ {
		err = p.replies.ProduceSync(ctx, rec).FirstErr()
		if err == nil || ctx.Err() != nil || n >= int(d.Retry) {
			return err
		}
		p.logger.Warn("producing a reply failed; retrying", zap.String("topic", p.topic), zap.Int("attempt", n+1), zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delivery.Backoff(d.BackoffPolicy, d.BackoffDelay.Std(), n+1)):
		}
	}
}

// panicked handles a panic while processing r (in Knative's filter, the delivery or the reply):
// the record is not marked done, so it is redelivered to whoever runs this egress next, and the
// egress halts with the panic as its not-Ready reason. Only this egress stops; the process and
// every other tenant go on.
func (p *processor) panicked(r *kgo.Record, v any) {
	p.panicOnce.Do(func() {
		p.logger.Error("processing a record panicked; halting this egress", zap.String("topic", r.Topic),
			zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Any("panic", v),
			zap.ByteString("stack", debug.Stack()))
	})
	if p.halt != nil {
		p.halt(fmt.Sprintf("processing %s/%d@%d panicked: %v", r.Topic, r.Partition, r.Offset, v))
	}
}
