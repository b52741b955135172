package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
)

// role says whom an attempt addresses, for metrics and logs.
type role string

const (
	roleSubscriber role = "subscriber"
	roleDeadLetter role = "dead_letter"
	roleReply      role = "reply"
)

// request is everything one series of attempts needs.
type request struct {
	event     *event.Event
	url       string
	parsed    *url.URL // url parsed (Sender.Prepare); nil: parse url per attempt
	delivery  contract.Delivery
	header    http.Header
	namespace string
	egress    string
	role      role
	series    *egressSeries
	// encoded, when set, is event's request (Encode), sent as it is.
	encoded *Encoded
}

// Deliver posts e to t.URL with t's retries and, when they are exhausted, posts e with the error
// extensions to t.DeadLetter, for as long as the sink fails retryably (see deadLetter). If ctx
// ends first, Deliver returns promptly with Outcome Failed and
// Err == ctx.Err(); the caller must not commit the event then.
func (s *Sender) Deliver(ctx context.Context, e *event.Event, t Target) Result {
	return s.deliver(ctx, e, nil, t)
}

// deliver is Deliver, with e's subscriber requests sent as enc when enc is not nil.
func (s *Sender) deliver(ctx context.Context, e *event.Event, enc *Encoded, t Target) Result {
	if t.series == nil {
		t.series = s.metrics.forEgress(t.Egress)
	}
	res, last := s.send(ctx, request{
		event: e, url: t.URL, parsed: t.url, delivery: t.Delivery, header: t.Header,
		namespace: t.Namespace, egress: t.Egress, role: roleSubscriber, series: t.series, encoded: enc,
	})
	switch {
	case res.Outcome == Delivered:
	case ctx.Err() != nil:
		res.Outcome, res.Err = Failed, ctx.Err()
	case t.DeadLetter == "":
		s.logger.Warn("delivery failed, no dead letter sink",
			zap.String("egress", t.Egress), zap.String("url", t.URL), zap.Int("code", res.StatusCode),
			zap.Int("attempts", res.Attempts), zap.Error(res.Err))
	default:
		res = s.deadLetter(ctx, e, t, t.URL, res, last)
	}
	t.series.outcome(res.Outcome)
	return res
}

// Pauses between two series of attempts at a dead-letter sink that keeps failing: the trigger's
// backoff for the next retry, but at least deadLetterPauseMin and at most deadLetterPauseMax.
const (
	deadLetterPauseMin = 100 * time.Millisecond
	deadLetterPauseMax = 30 * time.Second
)

// deadLetter posts e with the error extensions of the last attempt at dest to t.DeadLetter and
// folds the outcome into the result.
//
// A sink that fails retryably (down or overloaded: a network error, 5xx, 404, 408, 409, 429) is
// tried again, one series of t.Delivery's retries after another with a pause between, until it
// takes the event or ctx ends. The dispatcher commits an offset only once its event was delivered
// or dead-lettered, so giving up here would commit — and lose — every event that failed while the
// sink was down. Meanwhile the event holds its delivery slot, so a partition stops advancing
// (ordered) or fills its bounded buffer and pauses (unordered) instead of racing past. A sink that
// refuses the event for good (another 4xx, a malformed URL) ends it as Failed, logged.
func (s *Sender) deadLetter(ctx context.Context, e *event.Event, t Target, dest string, res Result, last attempt) Result {
	req := request{
		event: s.withErrorExtensions(e, dest, last), url: t.DeadLetter, parsed: t.deadLetter, delivery: t.Delivery,
		header: t.Header, namespace: t.Namespace, egress: t.Egress, role: roleDeadLetter, series: t.series,
	}
	for round := 1; ; round++ {
		dres, dlast := s.send(ctx, req)
		switch {
		case dres.Outcome == Delivered:
			res.Outcome = DeadLettered
			return res
		case ctx.Err() != nil:
			res.Outcome, res.Err = Failed, ctx.Err()
			return res
		case dlast.permanent || !IsRetryable(dlast.status, dlast.err):
			res.Outcome = Failed
			res.Err = fmt.Errorf("sending to dead letter sink: %w (after subscriber failed: %w)", dres.Err, res.Err)
			s.logger.Warn("delivery failed and the dead letter sink refused the event",
				zap.String("egress", t.Egress), zap.String("url", t.URL), zap.Int("code", res.StatusCode),
				zap.String("deadLetter", t.DeadLetter), zap.Int("deadLetterCode", dres.StatusCode),
				zap.Error(res.Err))
			return res
		}
		if round == 1 || round%10 == 0 {
			s.logger.Warn("dead letter sink failing; trying again until it takes the event",
				zap.String("egress", t.Egress), zap.String("deadLetter", t.DeadLetter),
				zap.Int("deadLetterCode", dres.StatusCode), zap.Int("round", round), zap.Error(dres.Err))
		}
		d := t.Delivery
		pause := min(max(Backoff(d.BackoffPolicy, d.BackoffDelay.Std(), int(max(d.Retry, 0))+round), deadLetterPauseMin), deadLetterPauseMax)
		if err := s.sleep(ctx, pause); err != nil {
			res.Outcome, res.Err = Failed, ctx.Err()
			if res.Err == nil { // a test sleeper may fail on its own
				res.Err = err
			}
			return res
		}
	}
}

// DeadLetterReply handles an event whose subscriber answered but whose reply could not be routed
// to replyDest (a topic or a reply URL) after its retries: e goes to t.DeadLetter with the error
// extensions (knativeerrordest = replyDest, knativeerrorcode = code when there was an HTTP answer,
// knativeerrordata = the error), as an undeliverable event would. Without a dead-letter sink, or
// when that fails too, the outcome is Failed and logged. If ctx ends first, Err == ctx.Err().
func (s *Sender) DeadLetterReply(ctx context.Context, e *event.Event, t Target, replyDest string, code int, replyErr error) Result {
	if t.series == nil {
		t.series = s.metrics.forEgress(t.Egress)
	}
	res := Result{Outcome: Failed, StatusCode: code, Err: fmt.Errorf("routing the reply to %s: %w", replyDest, replyErr)}
	if t.DeadLetter == "" {
		s.logger.Warn("reply failed, no dead letter sink", zap.String("egress", t.Egress),
			zap.String("reply", replyDest), zap.Int("code", code), zap.Error(replyErr))
	} else {
		res = s.deadLetter(ctx, e, t, replyDest, res, attempt{status: code, err: replyErr, body: []byte(replyErr.Error())})
	}
	t.series.outcome(res.Outcome)
	return res
}

// Send posts e to url with d's retries but without dead-lettering; it is used for replies to a
// reply URL, where a failed reply is retried on its own. h (may be nil) holds extra headers, e.g.
// Kn-Namespace and trace context. Send does not ask for nor parse a reply: Result.Reply is nil.
func (s *Sender) Send(ctx context.Context, e *event.Event, url string, d contract.Delivery, h http.Header) Result {
	res, _ := s.send(ctx, request{event: e, url: url, delivery: d, header: h, role: roleReply, series: s.metrics.forEgress("")})
	if res.Outcome != Delivered && ctx.Err() != nil {
		res.Err = ctx.Err()
	}
	return res
}

// send makes the first attempt and up to r.delivery.Retry retries. It returns the result and the
// last attempt, whose status and body feed the dead-letter extensions.
func (s *Sender) send(ctx context.Context, r request) (Result, attempt) {
	retries := int(max(r.delivery.Retry, 0))
	timeout := r.delivery.Timeout.Std()
	if timeout <= 0 {
		timeout = s.timeout
	}
	var (
		res  Result
		last attempt
	)
	for n := 0; ; n++ {
		if n > 0 {
			if err := s.sleep(ctx, s.wait(r.delivery, n, last)); err != nil {
				res.Outcome, res.Err = Failed, ctx.Err()
				if res.Err == nil { // a test sleeper may fail on its own
					res.Err = err
				}
				return res, last
			}
		}
		last = s.attempt(ctx, r, timeout)
		res.Attempts++
		res.StatusCode = last.status
		if last.err == nil {
			// Delivered even if ctx ended meanwhile: the destination has the event.
			res.Outcome, res.Reply, res.Err = Delivered, last.reply, nil
			return res, last
		}
		if ctx.Err() != nil {
			res.Outcome, res.Err = Failed, ctx.Err()
			return res, last
		}
		res.Err = last.err
		if last.permanent || !IsRetryable(last.status, last.err) || n >= retries {
			res.Outcome = Failed
			return res, last
		}
		s.logger.Debug("delivery attempt failed, retrying",
			zap.String("egress", r.egress), zap.String("url", r.url), zap.Int("code", last.status),
			zap.Int("attempt", n+1), zap.Error(last.err))
	}
}

// wait is the delay before retry n: the backoff, or the subscriber's Retry-After on 429/503
// bounded by RetryAfterMax when that is longer.
func (s *Sender) wait(d contract.Delivery, n int, last attempt) time.Duration {
	w := Backoff(d.BackoffPolicy, d.BackoffDelay.Std(), n)
	if ra := retryAfter(last.status, last.retryAfter, d.RetryAfterMax.Std(), s.now()); ra > w {
		w = ra
	}
	return w
}
