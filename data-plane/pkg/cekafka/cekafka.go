// Package cekafka is the CloudEvents Kafka protocol binding: Encode turns an event.Event into a
// binary-mode kgo.Record (ce_* headers, the data as the value, the partitionkey extension as the
// key), EncodeStructured into a structured-mode one (the event as JSON in the value, a
// content-type header naming the format, the same key), and Decode reads a record in binary or
// structured mode back into an event.Event, for CloudEvents 1.0 and 0.3.
//
// SourceConverter (source.go) turns any record a KafkaSource reads into a CloudEvent, the way
// Knative's KafkaSource does.
//
// SetTraceHeaders and TraceHeaders carry the W3C trace context (traceparent, tracestate) as record
// headers, so the ingress can hand it to the dispatcher through Kafka.
//
// Attribute names, kinds and conversions come from the sdk's binding/spec machinery; this package
// only maps them onto Kafka headers the way the binding specifies: "ce_" plus the lowercase
// attribute name, except datacontenttype, which travels as the "content-type" header.
package cekafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names fixed by the CloudEvents Kafka protocol binding and the W3C trace context.
const (
	// HeaderPrefix starts every binary-mode attribute header.
	HeaderPrefix = "ce_"
	// HeaderContentType carries datacontenttype in binary mode and the event format in
	// structured mode.
	HeaderContentType = "content-type"
	// HeaderTraceParent is the W3C traceparent header.
	HeaderTraceParent = "traceparent"
	// HeaderTraceState is the W3C tracestate header.
	HeaderTraceState = "tracestate"
	// PartitionKeyExtension is the extension whose value becomes the record key.
	PartitionKeyExtension = "partitionkey"

	headerSpecVersion         = HeaderPrefix + "specversion"
	headerDataContentEncoding = HeaderPrefix + event.DataContentEncodingKey
)

// specs maps Kafka header names to CloudEvents attributes, matching names exactly as the binding
// writes them: the header names are case-sensitive bytes.
var specs = spec.WithPrefixMatchExact(func(name string) string {
	if name == "datacontenttype" {
		return HeaderContentType
	}
	return HeaderPrefix + name
}, HeaderPrefix)

// Encode turns e into a binary-mode record: a ce_<attribute> header per set context attribute
// (ce_time in RFC 3339, ce_dataschema, or ce_schemaurl for 0.3), one per extension in its
// canonical string form, a content-type header from datacontenttype, the data bytes as Value (not
// copied) and the partitionkey extension as Key (nil without one). The Topic is left empty.
//
// An event that fails event.Validate is refused.
func Encode(e *event.Event) (*kgo.Record, error) {
	if e == nil || e.Context == nil {
		return nil, errors.New("encoding cloudevent: event has no context")
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("encoding cloudevent: %w", err)
	}
	return EncodeValidated(e)
}

// EncodeValidated is Encode for an event the caller has just validated with event.Validate (the
// ingress validates a whole batch before producing any of it), so the hot path does not validate
// every event twice.
func EncodeValidated(e *event.Event) (*kgo.Record, error) {
	if e == nil || e.Context == nil {
		return nil, errors.New("encoding cloudevent: event has no context")
	}
	v := specs.Version(e.SpecVersion())
	if v == nil {
		return nil, fmt.Errorf("encoding cloudevent: unsupported specversion %q", e.SpecVersion())
	}
	names := headerNames[v.String()]
	exts := extensions(e.Context)
	n := len(names) + len(exts) + 1
	r := &kgo.Record{Value: e.Data()}
	// All header values share one buffer; ends[i] is where the value of header i stops. The
	// names and ends of a usual event (ten attributes, a few extensions) fit in arrays on the
	// stack; only more extensions than that make append allocate.
	var keysArr [stackHeaders]string
	var endsArr [stackHeaders]int
	keys, ends := keysArr[:0], endsArr[:0]
	if n > stackHeaders {
		keys, ends = make([]string, 0, n), make([]int, 0, n)
	}
	buf := make([]byte, 0, 256)
	add := func(key string) {
		keys = append(keys, key)
		ends = append(ends, len(buf))
	}
	for i, a := range v.Attributes() {
		before := len(buf)
		buf = appendAttribute(buf, a.Kind(), e.Context)
		if len(buf) > before || a.Kind() == spec.SpecVersion {
			add(names[i])
		}
	}
	if enc := e.DeprecatedDataContentEncoding(); enc != "" && v.String() == event.CloudEventsVersionV03 {
		buf = append(buf, enc...)
		add(headerDataContentEncoding)
	}
	key := -1
	for name, val := range exts {
		s, err := types.Format(val)
		if err != nil {
			return nil, fmt.Errorf("encoding cloudevent extension %s: %w", name, err)
		}
		buf = append(buf, s...)
		if name == PartitionKeyExtension {
			key = len(keys)
		}
		add(HeaderPrefix + name)
	}
	r.Headers = make([]kgo.RecordHeader, len(keys))
	start := 0
	for i, k := range keys {
		r.Headers[i] = kgo.RecordHeader{Key: k, Value: buf[start:ends[i]:ends[i]]}
		start = ends[i]
	}
	if key >= 0 {
		r.Key = r.Headers[key].Value
	}
	return r, nil
}

// EncodeStructured turns e, which the caller has validated with event.Validate, into a
// structured-mode record: the event in the CloudEvents JSON format as Value, one header
// content-type: application/cloudevents+json (what the binding, and the Java SDK Knative's Kafka
// sink writes with, put there), and the partitionkey extension as Key (nil without one). The
// Topic is left empty.
func EncodeStructured(e *event.Event) (*kgo.Record, error) {
	if e == nil || e.Context == nil {
		return nil, errors.New("encoding cloudevent: event has no context")
	}
	value, err := format.JSON.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding structured cloudevent: %w", err)
	}
	r := &kgo.Record{
		Value:   value,
		Headers: []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte(format.JSON.MediaType())}},
	}
	if key, ok := extensions(e.Context)[PartitionKeyExtension]; ok {
		s, err := types.Format(key)
		if err != nil {
			return nil, fmt.Errorf("encoding cloudevent extension %s: %w", PartitionKeyExtension, err)
		}
		r.Key = []byte(s)
	}
	return r, nil
}

// stackHeaders is how many headers EncodeValidated tracks without allocating.
const stackHeaders = 16

// appendAttribute appends the canonical string of the context attribute of kind k, nothing when
// it is unset. It reads the context directly rather than through spec.Attribute.Get, which boxes
// every value: Encode is on the ingress's hot path.
func appendAttribute(buf []byte, k spec.Kind, c event.EventContextReader) []byte {
	switch k {
	case spec.ID:
		return append(buf, c.GetID()...)
	case spec.Source:
		return append(buf, c.GetSource()...)
	case spec.SpecVersion:
		return append(buf, c.GetSpecVersion()...)
	case spec.Type:
		return append(buf, c.GetType()...)
	case spec.DataContentType:
		return append(buf, c.GetDataContentType()...)
	case spec.DataSchema:
		return append(buf, c.GetDataSchema()...)
	case spec.Subject:
		return append(buf, c.GetSubject()...)
	case spec.Time:
		if t := c.GetTime(); !t.IsZero() {
			return t.UTC().AppendFormat(buf, time.RFC3339Nano)
		}
	}
	return buf
}

// headerNames lists, per spec version, the header name of each attribute of Version.Attributes.
var headerNames = func() map[string][]string {
	m := map[string][]string{}
	for _, v := range specs.Versions() {
		names := make([]string, len(v.Attributes()))
		for i, a := range v.Attributes() {
			names[i] = a.PrefixedName()
			if a.Kind() == spec.DataContentType {
				names[i] = HeaderContentType
			}
		}
		m[v.String()] = names
	}
	return m
}()

// Decode reads r as a CloudEvent. A content-type header naming the CloudEvents JSON format
// (application/cloudevents+json) means structured mode; otherwise a ce_specversion header means
// binary mode. The event must pass event.Validate and CheckStrings. Errors say what is wrong with
// the record; Decode never panics on any input.
func Decode(r *kgo.Record) (*event.Event, error) {
	e, err := decode(r)
	if err != nil {
		return nil, err
	}
	if err := CheckStrings(e); err != nil {
		return nil, fmt.Errorf("decoding cloudevent: %w", err)
	}
	return e, nil
}

func decode(r *kgo.Record) (*event.Event, error) {
	if r == nil {
		return nil, errors.New("decoding cloudevent: nil record")
	}
	var (
		contentType string
		specVersion []byte
		hasVersion  bool
	)
	for i := range r.Headers {
		switch r.Headers[i].Key {
		case HeaderContentType:
			contentType = string(r.Headers[i].Value)
		case headerSpecVersion:
			specVersion, hasVersion = r.Headers[i].Value, true
		}
	}
	if f := format.Lookup(contentType); f != nil {
		return decodeStructured(f, r.Value)
	}
	if !hasVersion {
		if format.IsFormat(strings.ToLower(contentType)) {
			return nil, fmt.Errorf("decoding cloudevent: unsupported structured format %q", contentType)
		}
		return nil, errors.New("decoding cloudevent: record has no ce_specversion header and is not in structured mode")
	}
	v := specs.Version(string(specVersion))
	if v == nil {
		return nil, fmt.Errorf("decoding cloudevent: unsupported specversion %q", specVersion)
	}
	return decodeBinary(v, r)
}

func decodeStructured(f format.Format, value []byte) (*event.Event, error) {
	if f == format.JSONBatch {
		return nil, errors.New("decoding cloudevent: batch mode is not allowed in a kafka record")
	}
	e := event.New()
	if err := f.Unmarshal(value, &e); err != nil {
		return nil, fmt.Errorf("decoding structured cloudevent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("decoding structured cloudevent: %w", err)
	}
	return &e, nil
}

func decodeBinary(v spec.Version, r *kgo.Record) (*event.Event, error) {
	e := event.Event{Context: v.NewContext()}
	for i := range r.Headers {
		h := &r.Headers[i]
		if a := v.Attribute(h.Key); a != nil {
			if a.Kind() == spec.SpecVersion {
				continue
			}
			if err := a.Set(e.Context, string(h.Value)); err != nil {
				return nil, fmt.Errorf("decoding cloudevent header %s: %w", h.Key, err)
			}
			continue
		}
		name, ok := strings.CutPrefix(h.Key, HeaderPrefix)
		if !ok {
			continue
		}
		if name == event.DataContentEncodingKey && v.String() == event.CloudEventsVersionV03 {
			if err := e.Context.DeprecatedSetDataContentEncoding(string(h.Value)); err != nil {
				return nil, fmt.Errorf("decoding cloudevent header %s: %w", h.Key, err)
			}
			continue
		}
		if err := e.Context.SetExtension(name, string(h.Value)); err != nil {
			return nil, fmt.Errorf("decoding cloudevent header %s: %w", h.Key, err)
		}
	}
	if len(r.Value) > 0 {
		e.DataEncoded = r.Value
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("decoding binary cloudevent: %w", err)
	}
	return &e, nil
}

// SetTraceHeaders sets the traceparent and tracestate headers of r, replacing any already there.
// An empty value removes its header.
func SetTraceHeaders(r *kgo.Record, traceparent, tracestate string) {
	setHeader(r, HeaderTraceParent, traceparent)
	setHeader(r, HeaderTraceState, tracestate)
}

// TraceHeaders returns the traceparent and tracestate headers of r; empty when absent.
func TraceHeaders(r *kgo.Record) (traceparent, tracestate string) {
	for i := range r.Headers {
		switch r.Headers[i].Key {
		case HeaderTraceParent:
			traceparent = string(r.Headers[i].Value)
		case HeaderTraceState:
			tracestate = string(r.Headers[i].Value)
		}
	}
	return traceparent, tracestate
}

func setHeader(r *kgo.Record, key, value string) {
	hs := r.Headers[:0]
	for _, h := range r.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	if value != "" {
		hs = append(hs, kgo.RecordHeader{Key: key, Value: []byte(value)})
	}
	r.Headers = hs
}
