package cekafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
)

var eventTime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// newEvent builds a valid event of version with every optional attribute set and string
// extensions (binary mode carries extensions as strings, so these survive a round trip exactly).
func newEvent(t testing.TB, version string) *event.Event {
	t.Helper()
	e := event.New(version)
	e.SetID("id-1")
	e.SetSource("/source/1")
	e.SetType("dev.knkafka.test")
	e.SetSubject("subject-1")
	e.SetTime(eventTime)
	e.SetDataSchema("https://example.com/schema.json")
	e.SetExtension("partitionkey", "key-1")
	e.SetExtension("myext", "my value")
	if err := e.SetData("application/json", map[string]any{"hello": "world"}); err != nil {
		t.Fatal(err)
	}
	return &e
}

// structured returns the event in the CloudEvents JSON format, a canonical form to compare.
func structured(t testing.TB, e *event.Event) map[string]any {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshalling %v: %v", e, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func headerMap(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestEncode(t *testing.T) {
	minimal := event.New()
	minimal.SetID("id-2")
	minimal.SetSource("/s")
	minimal.SetType("t")

	typed := event.New()
	typed.SetID("id-3")
	typed.SetSource("/s")
	typed.SetType("t")
	typed.SetExtension("count", 42)
	typed.SetExtension("flag", true)
	typed.SetExtension("raw", []byte{1, 2, 3})
	typed.SetExtension("when", eventTime)

	tests := []struct {
		name        string
		event       *event.Event
		wantHeaders map[string]string
		wantKey     []byte
		wantValue   string
	}{{
		name:  "a 1.0 event with every attribute",
		event: newEvent(t, event.CloudEventsVersionV1),
		wantHeaders: map[string]string{
			"ce_specversion":  "1.0",
			"ce_id":           "id-1",
			"ce_source":       "/source/1",
			"ce_type":         "dev.knkafka.test",
			"ce_subject":      "subject-1",
			"ce_time":         "2024-05-06T07:08:09.123456789Z",
			"ce_dataschema":   "https://example.com/schema.json",
			"ce_partitionkey": "key-1",
			"ce_myext":        "my value",
			"content-type":    "application/json",
		},
		wantKey:   []byte("key-1"),
		wantValue: `{"hello":"world"}`,
	}, {
		name:  "a 0.3 event names its schema schemaurl",
		event: newEvent(t, event.CloudEventsVersionV03),
		wantHeaders: map[string]string{
			"ce_specversion":  "0.3",
			"ce_id":           "id-1",
			"ce_source":       "/source/1",
			"ce_type":         "dev.knkafka.test",
			"ce_subject":      "subject-1",
			"ce_time":         "2024-05-06T07:08:09.123456789Z",
			"ce_schemaurl":    "https://example.com/schema.json",
			"ce_partitionkey": "key-1",
			"ce_myext":        "my value",
			"content-type":    "application/json",
		},
		wantKey:   []byte("key-1"),
		wantValue: `{"hello":"world"}`,
	}, {
		name:  "a minimal event has no key, no content type and no value",
		event: &minimal,
		wantHeaders: map[string]string{
			"ce_specversion": "1.0",
			"ce_id":          "id-2",
			"ce_source":      "/s",
			"ce_type":        "t",
		},
	}, {
		name:  "typed extensions are written in their canonical string form",
		event: &typed,
		wantHeaders: map[string]string{
			"ce_specversion": "1.0",
			"ce_id":          "id-3",
			"ce_source":      "/s",
			"ce_type":        "t",
			"ce_count":       "42",
			"ce_flag":        "true",
			"ce_raw":         "AQID",
			"ce_when":        "2024-05-06T07:08:09.123456789Z",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Encode(tt.event)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if diff := cmp.Diff(tt.wantHeaders, headerMap(r)); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if len(r.Headers) != len(tt.wantHeaders) {
				t.Errorf("got %d headers, want %d (a header is repeated)", len(r.Headers), len(tt.wantHeaders))
			}
			if diff := cmp.Diff(tt.wantKey, r.Key); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
			if got := string(r.Value); got != tt.wantValue {
				t.Errorf("value = %q, want %q", got, tt.wantValue)
			}
			if r.Topic != "" {
				t.Errorf("topic = %q, want empty", r.Topic)
			}
		})
	}
}

func TestEncodeDoesNotCopyData(t *testing.T) {
	e := newEvent(t, event.CloudEventsVersionV1)
	r, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if &r.Value[0] != &e.DataEncoded[0] {
		t.Error("Encode copied the event data into the record value")
	}
}

func TestEncodeErrors(t *testing.T) {
	noID := event.New()
	noID.SetSource("/s")
	noID.SetType("t")
	tests := []struct {
		name  string
		event *event.Event
		want  string
	}{
		{"a nil event", nil, "no context"},
		{"an event without context", &event.Event{}, "no context"},
		{"an invalid event", &noID, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.event)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, version := range []string{event.CloudEventsVersionV1, event.CloudEventsVersionV03} {
		t.Run(version, func(t *testing.T) {
			want := newEvent(t, version)
			r, err := Encode(want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			SetTraceHeaders(r, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE")
			got, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(structured(t, want), structured(t, got)); diff != "" {
				t.Errorf("decoded event (-want +got):\n%s", diff)
			}
			if got.SpecVersion() != version {
				t.Errorf("specversion = %q, want %q", got.SpecVersion(), version)
			}
		})
	}
}

// TestRoundTripManyExtensions crosses the number of headers EncodeValidated tracks on the stack.
func TestRoundTripManyExtensions(t *testing.T) {
	for _, n := range []int{stackHeaders - 7, stackHeaders - 6, stackHeaders, 3 * stackHeaders} {
		want := newEvent(t, event.CloudEventsVersionV1)
		for i := range n {
			want.SetExtension(fmt.Sprintf("ext%d", i), fmt.Sprintf("value %d", i))
		}
		want.SetExtension(PartitionKeyExtension, "the-key")
		r, err := Encode(want)
		if err != nil {
			t.Fatalf("%d extensions: Encode: %v", n, err)
		}
		if string(r.Key) != "the-key" {
			t.Errorf("%d extensions: key = %q, want the-key", n, r.Key)
		}
		got, err := Decode(r)
		if err != nil {
			t.Fatalf("%d extensions: Decode: %v", n, err)
		}
		if diff := cmp.Diff(structured(t, want), structured(t, got)); diff != "" {
			t.Errorf("%d extensions: decoded event (-want +got):\n%s", n, diff)
		}
	}
}

func TestRoundTripWithoutData(t *testing.T) {
	want := event.New()
	want.SetID("1")
	want.SetSource("/s")
	want.SetType("t")
	r, err := Encode(&want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(structured(t, &want), structured(t, got)); diff != "" {
		t.Errorf("decoded event (-want +got):\n%s", diff)
	}
	if got.Data() != nil {
		t.Errorf("data = %q, want none", got.Data())
	}
}

func TestDecodeStructured(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		value       string
		want        func(*event.Event)
	}{{
		name:        "1.0 JSON data",
		contentType: "application/cloudevents+json",
		value:       `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"a":1},"myext":"x"}`,
		want: func(e *event.Event) {
			e.SetID("1")
			e.SetSource("/s")
			e.SetType("t")
			e.SetExtension("myext", "x")
			_ = e.SetData("application/json", map[string]int{"a": 1})
		},
	}, {
		name:        "1.0 base64 data with a charset parameter",
		contentType: "application/cloudevents+json; charset=UTF-8",
		value:       `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AQID"}`,
		want: func(e *event.Event) {
			e.SetID("1")
			e.SetSource("/s")
			e.SetType("t")
			_ = e.SetData("application/octet-stream", []byte{1, 2, 3})
		},
	}, {
		name:        "0.3",
		contentType: "application/cloudevents+json",
		value:       `{"specversion":"0.3","id":"1","source":"/s","type":"t","schemaurl":"https://example.com/s"}`,
		want: func(e *event.Event) {
			e.SetSpecVersion(event.CloudEventsVersionV03)
			e.SetID("1")
			e.SetSource("/s")
			e.SetType("t")
			e.SetDataSchema("https://example.com/s")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kgo.Record{
				Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(tt.contentType)}},
				Value:   []byte(tt.value),
			}
			got, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := event.New()
			tt.want(&want)
			if diff := cmp.Diff(structured(t, &want), structured(t, got)); diff != "" {
				t.Errorf("decoded event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	binary := func(kv ...string) []kgo.RecordHeader {
		hs := []kgo.RecordHeader{}
		for i := 0; i+1 < len(kv); i += 2 {
			hs = append(hs, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return hs
	}
	valid := []string{"ce_specversion", "1.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t"}
	tests := []struct {
		name   string
		record *kgo.Record
		want   string
	}{{
		name:   "a nil record",
		record: nil,
		want:   "nil record",
	}, {
		name:   "a record without headers",
		record: &kgo.Record{Value: []byte("hello")},
		want:   "no ce_specversion header",
	}, {
		name:   "an unknown specversion",
		record: &kgo.Record{Headers: binary("ce_specversion", "2.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t")},
		want:   `unsupported specversion "2.0"`,
	}, {
		name:   "a binary event without id",
		record: &kgo.Record{Headers: binary("ce_specversion", "1.0", "ce_source", "/s", "ce_type", "t")},
		want:   "id",
	}, {
		name:   "a binary event with a bad time",
		record: &kgo.Record{Headers: binary(append(valid, "ce_time", "yesterday")...)},
		want:   "ce_time",
	}, {
		name:   "a binary event with an invalid extension name",
		record: &kgo.Record{Headers: binary(append(valid, "ce_my-ext", "x")...)},
		want:   "ce_my-ext",
	}, {
		name:   "a binary event with an extension named like an attribute",
		record: &kgo.Record{Headers: binary(append(valid, "ce_ID", "x")...)},
		want:   "ce_ID",
	}, {
		name: "structured mode with bad JSON",
		record: &kgo.Record{
			Headers: binary("content-type", "application/cloudevents+json"),
			Value:   []byte(`{"specversion":`),
		},
		want: "decoding structured cloudevent",
	}, {
		name: "structured mode without a type",
		record: &kgo.Record{
			Headers: binary("content-type", "application/cloudevents+json"),
			Value:   []byte(`{"specversion":"1.0","id":"1","source":"/s"}`),
		},
		want: "type",
	}, {
		name: "a batch",
		record: &kgo.Record{
			Headers: binary("content-type", "application/cloudevents-batch+json"),
			Value:   []byte(`[]`),
		},
		want: "batch mode",
	}, {
		name: "an unknown structured format",
		record: &kgo.Record{
			Headers: binary("content-type", "application/cloudevents+avro"),
			Value:   []byte(`x`),
		},
		want: "unsupported structured format",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode(tt.record)
			if err == nil {
				t.Fatalf("Decode = %v, want an error mentioning %q", e, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %q, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTraceHeaders(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("1")}}}
	SetTraceHeaders(r, "tp-1", "ts-1")
	SetTraceHeaders(r, "tp-2", "")
	tp, ts := TraceHeaders(r)
	if tp != "tp-2" || ts != "" {
		t.Errorf("TraceHeaders = %q, %q; want %q, %q", tp, ts, "tp-2", "")
	}
	var keys []string
	for _, h := range r.Headers {
		keys = append(keys, h.Key)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"ce_id", "traceparent"}, keys); diff != "" {
		t.Errorf("header keys (-want +got):\n%s", diff)
	}
}

func FuzzDecode(f *testing.F) {
	for _, version := range []string{event.CloudEventsVersionV1, event.CloudEventsVersionV03} {
		r, err := Encode(newEvent(f, version))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(flatten(r.Headers), r.Value)
	}
	f.Add("content-type\x00application/cloudevents+json", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AQID"}`))
	f.Add("content-type\x00application/cloudevents+json", []byte(`{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontentencoding":"base64","data":"AQID"}`))
	f.Add("ce_specversion\x000.3\x00ce_datacontentencoding\x00base64", []byte("x"))
	f.Add("ce_specversion\x001.0\x00ce_time\x00bad\x00ce_\x00", []byte{})
	f.Fuzz(func(t *testing.T, headers string, value []byte) {
		r := &kgo.Record{Value: value}
		parts := strings.Split(headers, "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: parts[i], Value: []byte(parts[i+1])})
		}
		e, err := Decode(r)
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same event.
		r2, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode of a decoded event: %v\nevent: %v", err, e)
		}
		e2, err := Decode(r2)
		if err != nil {
			t.Fatalf("Decode of a re-encoded event: %v\nevent: %v", err, e)
		}
		if e.Context.String() != e2.Context.String() || !bytes.Equal(e.Data(), e2.Data()) {
			t.Fatalf("re-encoded event differs:\nfirst:  %v\nsecond: %v", e, e2)
		}
	})
}

func flatten(hs []kgo.RecordHeader) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.Key, string(h.Value))
	}
	return strings.Join(parts, "\x00")
}

func BenchmarkEncode(b *testing.B) {
	e := newEvent(b, event.CloudEventsVersionV1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	r, err := Encode(newEvent(b, event.CloudEventsVersionV1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeValidated(b *testing.B) {
	e := event.New()
	e.SetID("id-1")
	e.SetSource("/bench")
	e.SetType("bench.event")
	e.SetExtension("partitionkey", "k")
	_ = e.SetData(event.ApplicationJSON, make([]byte, 1024))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeValidated(&e); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEncodeStructured(t *testing.T) {
	for _, version := range []string{event.CloudEventsVersionV1, event.CloudEventsVersionV03} {
		t.Run(version, func(t *testing.T) {
			e := newEvent(t, version)
			r, err := EncodeStructured(e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{"content-type": "application/cloudevents+json"}, headerMap(r)); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if got := string(r.Key); got != "key-1" {
				t.Errorf("key = %q, want the partitionkey %q", got, "key-1")
			}
			var value map[string]any
			if err := json.Unmarshal(r.Value, &value); err != nil {
				t.Fatalf("value is not JSON: %v\n%s", err, r.Value)
			}
			if diff := cmp.Diff(structured(t, e), value); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if value["data"] == nil || value["specversion"] != version {
				t.Errorf("value = %s, want the data inline and specversion %s", r.Value, version)
			}
			back, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode(EncodeStructured(e)): %v", err)
			}
			if diff := cmp.Diff(structured(t, e), structured(t, back)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeStructuredWithoutPartitionKeyHasNoKey(t *testing.T) {
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	r, err := EncodeStructured(&e)
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != nil {
		t.Errorf("key = %q, want none", r.Key)
	}
	if _, err := EncodeStructured(&event.Event{}); err == nil {
		t.Error("EncodeStructured of an event without a context succeeded")
	}
}

func BenchmarkEncodeStructured(b *testing.B) {
	e := event.New()
	e.SetID("id-1")
	e.SetSource("/bench")
	e.SetType("bench.event")
	e.SetExtension("partitionkey", "k")
	_ = e.SetData(event.ApplicationJSON, make([]byte, 1024))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeStructured(&e); err != nil {
			b.Fatal(err)
		}
	}
}
