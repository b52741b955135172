package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/pkg/logging"

	"github.com/cloudevents/sdk-go/v2/event"

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
	replies   producer
	metrics   *egressMetrics
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
		replies:   replies,
		metrics:   m,
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

// process handles r and reports whether its offset may be committed: true when the event was
// delivered (and its reply routed), dead-lettered, filtered out, undecodable, or failed for good
// (retries and dead-letter sink exhausted: delivery logged and counted it); false only when ctx
// ended the work (revocation, shutdown), so the record is delivered again by whoever consumes
// the partition next.
func (p *processor) process(ctx context.Context, r *kgo.Record) (completed bool) {
	defer func() {
		if v := recover(); v != nil {
			completed = false
			p.panicked(r, v)
		}
	}()
	e, err := p.decodeRecord(r)
	if err != nil {
		// Retrying cannot fix a record that is not a CloudEvent; skip it loudly.
		p.logger.Warn("skipping a record that is not a CloudEvent", zap.String("topic", r.Topic),
			zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
		p.metrics.outcome(outcomeUndecodable)
		return true
	}
	if p.filter != nil && p.filter.Filter(p.filterCtx, *e) == eventfilter.FailFilter {
		p.metrics.outcome(outcomeFiltered)
		return true
	}
	var h http.Header
	if tp, ts := cekafka.TraceHeaders(r); tp != "" || ts != "" {
		h = http.Header{}
		if tp != "" {
			h.Set(cekafka.HeaderTraceParent, tp)
		}
		if ts != "" {
			h.Set(cekafka.HeaderTraceState, ts)
		}
	}
	res := p.sender.Deliver(ctx, e, delivery.Target{
		URL:        p.egress.Destination,
		DeadLetter: p.egress.DeadLetter,
		Delivery:   p.egress.Delivery,
		Namespace:  p.egress.Namespace,
		Egress:     p.label,
		Header:     h,
	})
	if res.Outcome == delivery.Failed && ctx.Err() != nil {
		return false
	}
	p.metrics.outcome(res.Outcome.String())
	if res.Outcome != delivery.Delivered || res.Reply == nil {
		return true
	}
	return p.reply(ctx, r, res.Reply, h)
}

// reply routes a subscriber's reply. It returns false only when ctx ended it, so the event and
// its reply are redelivered; a reply that fails otherwise is logged and counted.
func (p *processor) reply(ctx context.Context, r *kgo.Record, reply *event.Event, h http.Header) bool {
	switch p.egress.Reply.Kind {
	case contract.ReplyTopic:
		rec, err := cekafka.EncodeValidated(reply) // delivery only returns validated replies
		if err != nil {
			p.logger.Warn("dropping a reply that cannot be encoded", zap.String("topic", r.Topic),
				zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			p.metrics.outcome(outcomeReplyFailed)
			return true
		}
		rec.Topic = p.topic
		cekafka.SetTraceHeaders(rec, h.Get(cekafka.HeaderTraceParent), h.Get(cekafka.HeaderTraceState))
		if err := p.replies.ProduceSync(ctx, rec).FirstErr(); err != nil {
			if ctx.Err() != nil {
				return false
			}
			p.logger.Warn("producing a reply", zap.String("topic", p.topic), zap.Error(err))
			p.metrics.outcome(outcomeReplyFailed)
		}
		return true
	case contract.ReplyURL:
		res := p.sender.Send(ctx, reply, p.egress.Reply.URL, p.egress.Delivery, h)
		if res.Outcome == delivery.Failed {
			if ctx.Err() != nil {
				return false
			}
			p.logger.Warn("sending a reply", zap.String("url", p.egress.Reply.URL),
				zap.Int("code", res.StatusCode), zap.Error(res.Err))
			p.metrics.outcome(outcomeReplyFailed)
		}
		return true
	default:
		return true
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
