package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

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

// ServeHTTP accepts CloudEvents for the broker or channel the request routes to: 202 once Kafka
// acknowledged every event of the request, 400 for anything that is not a valid CloudEvent, 404
// for an unknown path or host, 405 for methods other than POST and OPTIONS, 413 for a body over
// MaxRequestBytes, and 503 when Kafka did not take the events within ProduceTimeout.
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
		http.Error(w, fmt.Sprintf("no broker or channel at %s%s", r.Host, r.URL.Path), http.StatusNotFound)
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

	code, reason := i.accept(r, s, route, rm)
	rm.count(code)
	if code == http.StatusAccepted {
		w.WriteHeader(code)
		return
	}
	http.Error(w, reason, code)
}

// accept reads, validates and produces the events of r; it returns the response code and, for
// an error, its reason.
func (i *Ingress) accept(r *http.Request, s *snapshot, route *routing.Route, rm *resourceMetrics) (int, string) {
	res := route.Resource
	if r.ContentLength > i.cfg.maxRequestBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, i.cfg.maxRequestBytes)
	}
	body, err := readBody(r.Body, r.ContentLength, i.cfg.maxRequestBytes)
	rm.bytesIn.Add(float64(len(body)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", i.cfg.maxRequestBytes)
		}
		return http.StatusBadRequest, fmt.Sprintf("reading request body: %v", err)
	}
	events, err := parseEvents(r, body)
	if err != nil {
		i.logger.Debug("Rejected request", zap.String("resource", res.Namespace+"/"+res.Name), zap.Error(err))
		return http.StatusBadRequest, err.Error()
	}

	p, ok := s.producers[route.ProducerKey]
	if !ok {
		return http.StatusServiceUnavailable, fmt.Sprintf("no Kafka producer for %s/%s: %v", res.Namespace, res.Name, s.failed[route.ProducerKey])
	}
	traceparent, tracestate := r.Header.Get("traceparent"), r.Header.Get("tracestate")
	records := make([]*kgo.Record, len(events))
	for n, e := range events {
		rec, err := cekafka.EncodeValidated(e) // parseEvents validated every event
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
	err = i.produce(r.Context(), p.client, records)
	rm.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		code, reason := produceFailure(res.Topic, i.cfg.produceTimeout, err)
		i.logger.Warn("Kafka did not take events", zap.String("resource", res.Namespace+"/"+res.Name),
			zap.String("topic", res.Topic), zap.Int("code", code), zap.Error(err))
		return code, reason
	}
	return http.StatusAccepted, ""
}

// produce hands records to Kafka and waits until Kafka acknowledged all of them, one failed, or
// ProduceTimeout passed. A record still pending when produce returns may be written later; the
// caller then answers an error, and the client's retry makes it a duplicate, never a loss.
func (i *Ingress) produce(ctx context.Context, cl *kgo.Client, records []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(ctx, i.cfg.produceTimeout)
	defer cancel()
	// Buffered for every promise, so promises that complete after we stopped waiting never block.
	done := make(chan error, len(records))
	promise := func(_ *kgo.Record, err error) { done <- err }
	for _, rec := range records {
		cl.Produce(ctx, rec, promise)
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
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, fmt.Sprintf("kafka did not acknowledge the event within %s", timeout)
	default:
		return http.StatusServiceUnavailable, fmt.Sprintf("writing to kafka: %v", err)
	}
}

// readBody reads at most limit bytes, reading into one exactly sized buffer when the length is
// known.
func readBody(body io.ReadCloser, length, limit int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	rd := http.MaxBytesReader(nil, body, limit)
	if length <= 0 {
		return io.ReadAll(rd)
	}
	buf := make([]byte, length)
	n, err := io.ReadFull(rd, buf)
	if err != nil {
		return buf[:n], err
	}
	return buf, nil
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
		if err := e.Validate(); err != nil {
			if len(events) > 1 {
				return nil, fmt.Errorf("invalid cloudevent %d of the batch: %w", n, err)
			}
			return nil, fmt.Errorf("invalid cloudevent: %w", err)
		}
	}
	return events, nil
}
