package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/routing"
)

// Paths the ingress answers itself. They have one segment, so no "/<namespace>/<name>" route
// can shadow them.
const (
	// HealthzPath answers 200 while the process serves HTTP.
	HealthzPath = "/healthz"
	// ReadyzPath answers 200 once a contract was applied, 503 before and after Close.
	ReadyzPath = "/readyz"
)

// ServeHTTP accepts CloudEvents for the broker, channel or sink the request routes to: 202 once Kafka
// acknowledged every event of the request, 400 for anything that is not a valid CloudEvent, 404
// for an unknown path or host, 405 for methods other than POST and OPTIONS, 408 for a body not
// received within BodyTimeout, 413 for a body over MaxRequestBytes, and 503 (with Retry-After)
// when Kafka did not take the events within ProduceTimeout or the ingress is at its MaxRequests
// or MaxInFlightBytes bound.
func (i *Ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case HealthzPath:
		w.WriteHeader(http.StatusOK)
		return
	case ReadyzPath:
		if i.snap.Load() == nil || i.closed.Load() {
			http.Error(w, "no contract applied", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	s := i.snap.Load()
	if s == nil || i.closed.Load() {
		i.metrics.unrouted.count(http.StatusServiceUnavailable)
		http.Error(w, "ingress is not serving: no contract applied or shutting down", http.StatusServiceUnavailable)
		return
	}
	route, ok := s.table.Lookup(r.Host, r.URL.Path)
	if !ok {
		i.metrics.unrouted.count(http.StatusNotFound)
		http.Error(w, fmt.Sprintf("no broker, channel or sink at %s%s", r.Host, r.URL.Path), http.StatusNotFound)
		return
	}
	rm := s.metrics[route.Resource.UID]
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// CloudEvents webhook abuse protection (validation handshake).
		h := w.Header()
		if origin := r.Header.Get("WebHook-Request-Origin"); origin != "" {
			h.Set("WebHook-Allowed-Origin", origin)
		}
		h.Set("WebHook-Allowed-Rate", "*")
		h.Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusOK)
		rm.count(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		rm.count(http.StatusMethodNotAllowed)
		http.Error(w, fmt.Sprintf("method %s is not allowed; send events with POST", r.Method), http.StatusMethodNotAllowed)
		return
	}

	if !i.requests.take(1) {
		rm.count(http.StatusServiceUnavailable)
		busy(w, "ingress is handling as many requests as it may; retry shortly")
		return
	}
	defer i.requests.give(1)
	code, reason := i.safeAccept(w, r, route, rm)
	rm.count(code)
	switch code {
	case http.StatusAccepted:
		w.WriteHeader(code)
	case http.StatusServiceUnavailable:
		busy(w, reason)
	default:
		http.Error(w, reason, code)
	}
}

// busy answers 503 with a Retry-After, so senders back off briefly rather than give up.
func busy(w http.ResponseWriter, reason string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, reason, http.StatusServiceUnavailable)
}

// safeAccept is accept with a panic turned into a 500 for this request alone: whatever state of
// one resource trips a bug, the other resources' requests, and the process, go on.
func (i *Ingress) safeAccept(w http.ResponseWriter, r *http.Request, route *routing.Route, rm *resourceMetrics) (code int, reason string) {
	defer func() {
		if v := recover(); v != nil {
			res := route.Resource
			i.logger.Error("handling a request panicked", zap.String("resource", res.Namespace+"/"+res.Name),
				zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
			code, reason = http.StatusInternalServerError, fmt.Sprintf("internal error handling events for %s/%s", res.Namespace, res.Name)
		}
	}()
	return i.accept(w, r, route, rm)
}

// accept reads, validates and produces the events of r; it returns the response code and, for
// an error, its reason.
func (i *Ingress) accept(w http.ResponseWriter, r *http.Request, route *routing.Route, rm *resourceMetrics) (int, string) {
	res := route.Resource
	if r.ContentLength > i.cfg.maxRequestBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, i.cfg.maxRequestBytes)
	}
	body, held, err := readBody(r, w, &i.bodies, i.cfg.maxRequestBytes, time.Now().Add(i.cfg.bodyTimeout))
	// The body stays referenced by the records until Kafka acknowledged them (or we stopped
	// waiting), so its bytes are given back only when the request is done.
	defer i.bodies.give(held)
	rm.bytesIn.Add(float64(len(body)))
	switch {
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", i.cfg.maxRequestBytes)
	case errors.Is(err, errBodyBudget):
		return http.StatusServiceUnavailable, fmt.Sprintf("%v; retry shortly", err)
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, fmt.Sprintf("request body was not received within %s", i.cfg.bodyTimeout)
	case err != nil:
		return http.StatusBadRequest, fmt.Sprintf("reading request body: %v", err)
	}
	events, err := parseEvents(r, body)
	if err != nil {
		i.logger.Debug("Rejected request", zap.String("resource", res.Namespace+"/"+res.Name), zap.Error(err))
		return http.StatusBadRequest, err.Error()
	}

	p, reason := i.acquireProducer(res)
	if p == nil {
		return http.StatusServiceUnavailable, reason
	}
	defer p.release()
	if msg, refused := p.refused(res); refused {
		return http.StatusServiceUnavailable, fmt.Sprintf("%s/%s is not served: %s", res.Namespace, res.Name, msg)
	}
	traceparent, tracestate := r.Header.Get("traceparent"), r.Header.Get("tracestate")
	encode := encoder(res.ContentMode)
	records := make([]*kgo.Record, len(events))
	for n, e := range events {
		rec, err := encode(e) // parseEvents validated every event
		if err != nil {
			return http.StatusBadRequest, err.Error()
		}
		rec.Topic = res.Topic
		if traceparent != "" || tracestate != "" {
			cekafka.SetTraceHeaders(rec, traceparent, tracestate)
		}
		records[n] = rec
	}

	start := time.Now()
	// The records are produced under a context of the server's, not the request's: franz-go fails
	// the buffered records of a partition together when the first one's context ends, so a client
	// that hangs up must not cut short the records of other clients batched with its own.
	err = i.produce(context.WithoutCancel(r.Context()), p.client, records)
	rm.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		code, reason := produceFailure(res.Topic, i.cfg.produceTimeout, err)
		i.logger.Warn("Kafka did not take events", zap.String("resource", res.Namespace+"/"+res.Name),
			zap.String("topic", res.Topic), zap.Int("code", code), zap.Error(err))
		return code, reason
	}
	return http.StatusAccepted, ""
}

// encoder is how records of a resource with content mode m are written: structured mode for a
// KafkaSink that asks for it, binary mode otherwise.
func encoder(m contract.ContentMode) func(*event.Event) (*kgo.Record, error) {
	if m == contract.ContentModeStructured {
		return cekafka.EncodeStructured
	}
	return cekafka.EncodeValidated
}

// acquireProducer returns the producer that serves res now, acquired (the caller releases it),
// or nil and why res is not served. It reads the current snapshot rather than the one the
// request was routed with: the body may have taken long enough for Apply to replace the
// producer (a rotated Secret), and the old one is closed once its last request released it.
func (i *Ingress) acquireProducer(res *contract.Resource) (*producer, string) {
	for range 3 {
		s := i.snap.Load()
		p, ok := s.producer(res.UID)
		if !ok {
			return nil, fmt.Sprintf("%s/%s is not served: %s", res.Namespace, res.Name, unservedStatus(s.unserved[res.UID]).Message)
		}
		if p.acquire() {
			return p, ""
		}
	}
	return nil, fmt.Sprintf("%s/%s: its Kafka producer is being replaced; retry shortly", res.Namespace, res.Name)
}

// produce hands records to Kafka and waits until Kafka acknowledged all of them, one failed, or
// ProduceTimeout passed. A record still pending when produce returns may be written later; the
// caller then answers an error, and the client's retry makes it a duplicate, never a loss.
// A full producer buffer fails at once (TryProduce) rather than blocking the request.
func (i *Ingress) produce(ctx context.Context, cl *kgo.Client, records []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(ctx, i.cfg.produceTimeout)
	defer cancel()
	// Buffered for every promise, so promises that complete after we stopped waiting never block.
	done := make(chan error, len(records))
	promise := func(_ *kgo.Record, err error) { done <- err }
	for _, rec := range records {
		cl.TryProduce(ctx, rec, promise)
	}
	for range records {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// produceFailure maps a produce error to a response code and reason.
func produceFailure(topic string, timeout time.Duration, err error) (int, string) {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return http.StatusServiceUnavailable, fmt.Sprintf("topic %q does not exist", topic)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("event is too large for topic %q: %v", topic, err)
	case errors.Is(err, kgo.ErrMaxBuffered):
		return http.StatusServiceUnavailable, "kafka is not keeping up: the producer buffer is full; retry shortly"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, fmt.Sprintf("kafka did not acknowledge the event within %s", timeout)
	default:
		return http.StatusServiceUnavailable, fmt.Sprintf("writing to kafka: %v", err)
	}
}

// parseEvents reads the events of r in binary, structured or batch mode, with the CloudEvents
// sdk's HTTP binding and validation.
func parseEvents(r *http.Request, body []byte) ([]*event.Event, error) {
	// The message reads only the headers: the body is already in memory and becomes the event's
	// data without another copy, which is all binding.ToEvent would do with it in binary mode.
	msg := cehttp.NewMessage(r.Header, nil)
	var events []*event.Event
	switch msg.ReadEncoding() {
	case binding.EncodingBinary:
		e, err := binding.ToEvent(r.Context(), msg)
		if err != nil {
			return nil, fmt.Errorf("reading binary-mode cloudevent: %w", err)
		}
		if len(body) > 0 {
			e.DataEncoded = body
		}
		events = []*event.Event{e}
	case binding.EncodingStructured:
		f := format.Lookup(r.Header.Get(cehttp.ContentType))
		e := event.New()
		if err := f.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("reading structured-mode cloudevent: %w", err)
		}
		events = []*event.Event{&e}
	case binding.EncodingBatch:
		var batch []event.Event
		if err := json.Unmarshal(body, &batch); err != nil {
			return nil, fmt.Errorf("reading batch of cloudevents: %w", err)
		}
		if len(batch) == 0 {
			return nil, errors.New("batch holds no cloudevents")
		}
		events = make([]*event.Event, len(batch))
		for n := range batch {
			events[n] = &batch[n]
		}
	default:
		if v := r.Header.Get("Ce-Specversion"); v != "" {
			return nil, fmt.Errorf("unsupported cloudevents specversion %q", v)
		}
		return nil, fmt.Errorf("not a cloudevent: no Ce-Specversion header and content type %q is not a cloudevents format", r.Header.Get(cehttp.ContentType))
	}
	for n, e := range events {
		err := e.Validate()
		if err == nil {
			err = cekafka.CheckStrings(e)
		}
		if err != nil {
			if len(events) > 1 {
				return nil, fmt.Errorf("invalid cloudevent %d of the batch: %w", n, err)
			}
			return nil, fmt.Errorf("invalid cloudevent: %w", err)
		}
	}
	return events, nil
}
