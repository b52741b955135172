package cekafka

import (
	"encoding/binary"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

const testEventSource = "/apis/v1/namespaces/ns/kafkasources/src"

var recordTime = time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)

// testSource sets two overrides: one new, one replacing the myext extension of newEvent.
func testSource(keyType contract.KeyType) *contract.Source {
	return &contract.Source{
		EventSource: testEventSource,
		KeyType:     keyType,
		Extensions:  map[string]string{"team": "blue", "myext": "overridden"},
	}
}

// rec is a record of topic "orders", partition 2, offset 7 with the given key, value and headers
// (name/value pairs).
func rec(key, value []byte, headers ...string) *kgo.Record {
	r := &kgo.Record{Topic: "orders", Partition: 2, Offset: 7, Timestamp: recordTime, Key: key, Value: value}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

// converted is the context every converted record of rec has, plus more (name/value pairs).
func converted(more ...string) map[string]any {
	m := map[string]any{
		"specversion": "1.0", "id": "partition:2/offset:7", "source": testEventSource + "#orders",
		"type": "dev.knative.kafka.event", "subject": "partition:2#7", "time": "2024-05-06T07:08:09.123Z",
		"knativekafkapartition": "2", "knativekafkaoffset": "7", "team": "blue", "myext": "overridden",
	}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i]] = more[i+1]
	}
	return m
}

// passedThrough is the context of newEvent(v1) after conversion of rec's position.
func passedThrough() map[string]any {
	m := map[string]any{
		"specversion": "1.0", "id": "id-1", "source": "/source/1", "type": "dev.knkafka.test",
		"subject": "subject-1", "time": "2024-05-06T07:08:09.123456789Z",
		"dataschema": "https://example.com/schema.json", "datacontenttype": "application/json",
		"partitionkey": "key-1", "knativekafkapartition": "2", "knativekafkaoffset": "7",
		"team": "blue", "myext": "overridden",
	}
	return m
}

// attributes returns e's attributes and extensions as the JSON format writes them, without data.
func attributes(t *testing.T, e *event.Event) map[string]any {
	t.Helper()
	c := e.Clone()
	c.DataEncoded = nil
	return structured(t, &c)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func asRecord(t *testing.T, e *event.Event) *kgo.Record {
	t.Helper()
	r, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	r.Topic, r.Partition, r.Offset, r.Timestamp = "orders", 2, 7, recordTime
	return r
}

func TestSourceConverter(t *testing.T) {
	ce := newEvent(t, event.CloudEventsVersionV1)
	ceJSON, err := ce.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	ceHeaders := asRecord(t, ce)
	// A binary CloudEvent whose subject holds a newline is not a valid CloudEvent.
	badSubject := asRecord(t, ce)
	for i := range badSubject.Headers {
		if badSubject.Headers[i].Key == "ce_subject" {
			badSubject.Headers[i].Value = []byte("line\nbreak")
		}
	}
	tests := []struct {
		name     string
		keyType  contract.KeyType
		record   *kgo.Record
		want     map[string]any
		wantData string
	}{
		{name: "plain value", record: rec(nil, []byte("hello")), want: converted(), wantData: "hello"},
		{name: "string key", record: rec([]byte("k1"), []byte("v")), want: converted("key", "k1", "partitionkey", "k1"), wantData: "v"},
		{name: "unset key type reads strings", keyType: "", record: rec([]byte("42"), nil), want: converted("key", "42", "partitionkey", "42")},
		{name: "unknown key type reads strings", keyType: "uuid", record: rec([]byte("x"), nil), want: converted("key", "x", "partitionkey", "x")},
		{name: "string key with invalid UTF-8 and control characters", record: rec([]byte("a\xffb\x00\n"), nil),
			want: converted("key", "a\uFFFDb", "partitionkey", "a\uFFFDb")},
		{name: "string key of only control characters sets no key", record: rec([]byte("\x00\x01"), nil), want: converted()},
		{name: "empty key sets no key", keyType: contract.KeyInt, record: rec([]byte{}, nil), want: converted()},
		{name: "int key of 4 bytes", keyType: contract.KeyInt, record: rec(be32(uint32(0xfffffffe)), nil), want: converted("key", "-2", "partitionkey", "-2")},
		{name: "int key of 8 bytes", keyType: contract.KeyInt, record: rec(be64(1<<40), nil), want: converted("key", "1099511627776", "partitionkey", "1099511627776")},
		{name: "int key of another length reads as a string", keyType: contract.KeyInt, record: rec([]byte("abc"), nil), want: converted("key", "abc", "partitionkey", "abc")},
		{name: "float key of 4 bytes", keyType: contract.KeyFloat, record: rec(be32(math.Float32bits(1.5)), nil), want: converted("key", "1.5", "partitionkey", "1.5")},
		{name: "float key of 8 bytes", keyType: contract.KeyFloat, record: rec(be64(math.Float64bits(1e20)), nil), want: converted("key", "1.0E20", "partitionkey", "1.0E20")},
		{name: "float key of another length reads as a string", keyType: contract.KeyFloat, record: rec([]byte("ab"), nil), want: converted("key", "ab", "partitionkey", "ab")},
		{name: "byte-array key is base64", keyType: contract.KeyByteArray, record: rec([]byte{0, 1, 0xfe, 0xff}, nil), want: converted("key", "AAH+/w==", "partitionkey", "AAH+/w==")},
		{name: "headers become kafkaheader extensions", record: rec(nil, []byte("v"), "X-Trace_ID", "abc", "İd", "1", "!!", "bang", "dup", "first", "dup", "second"),
			want: converted("kafkaheaderxtraceid", "abc", "kafkaheaderid", "1", "kafkaheader", "bang", "kafkaheaderdup", "second"), wantData: "v"},
		{name: "header values lose control characters", record: rec(nil, nil, "h", "a\x00b\r\nc\x7f\u0085d\uFFFFe\tf"), want: converted("kafkaheaderh", "abcdef")},
		{name: "header with no value", record: &kgo.Record{Topic: "orders", Partition: 2, Offset: 7, Timestamp: recordTime,
			Headers: []kgo.RecordHeader{{Key: "empty"}}}, want: converted("kafkaheaderempty", "")},
		{name: "content type header is datacontenttype only", record: rec(nil, []byte(`{"a":1}`), "Content-Type", "Application/JSON", "other", "x"),
			want: converted("datacontenttype", "application/json", "kafkaheaderother", "x"), wantData: `{"a":1}`},
		{name: "binary CloudEvent passes through", record: ceHeaders, want: passedThrough(), wantData: `{"hello":"world"}`},
		{name: "structured CloudEvent passes through", record: rec(nil, ceJSON, "content-type", "application/cloudevents+json"),
			want: passedThrough(), wantData: `{"hello":"world"}`},
		{name: "binary CloudEvent without a value passes through without data", record: rec(nil, nil, "ce_specversion", "1.0", "ce_id", "i", "ce_source", "/s", "ce_type", "t"),
			want: map[string]any{"specversion": "1.0", "id": "i", "source": "/s", "type": "t", "knativekafkapartition": "2", "knativekafkaoffset": "7", "team": "blue", "myext": "overridden"}},
		{name: "invalid binary CloudEvent is converted", record: rec([]byte("k"), []byte("v"), "ce_specversion", "1.0", "ce_type", "t"),
			want: converted("key", "k", "partitionkey", "k", "kafkaheadercespecversion", "1.0", "kafkaheadercetype", "t"), wantData: "v"},
		{name: "CloudEvent with a control character is converted", record: badSubject,
			want: converted("key", "key-1", "partitionkey", "key-1", "kafkaheadercespecversion", "1.0", "kafkaheaderceid", "id-1",
				"kafkaheadercesource", "/source/1", "kafkaheadercetype", "dev.knkafka.test", "kafkaheadercesubject", "linebreak",
				"kafkaheadercetime", "2024-05-06T07:08:09.123456789Z", "kafkaheadercedataschema", "https://example.com/schema.json",
				"kafkaheadercepartitionkey", "key-1", "kafkaheadercemyext", "my value", "datacontenttype", "application/json"),
			wantData: `{"hello":"world"}`},
		{name: "structured CloudEvent that does not parse is converted", record: rec(nil, []byte("{"), "content-type", "application/cloudevents+json"),
			want: converted("datacontenttype", "application/cloudevents+json"), wantData: "{"},
		{name: "empty value has no data", record: rec(nil, []byte{}), want: converted()},
		{name: "tombstone has no data", record: rec([]byte("k"), nil), want: converted("key", "k", "partitionkey", "k")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewSourceConverter(testSource(tt.keyType))
			if err != nil {
				t.Fatal(err)
			}
			e := c.Convert(tt.record)
			if diff := cmp.Diff(tt.want, attributes(t, e)); diff != "" {
				t.Errorf("context (-want +got):\n%s", diff)
			}
			if got := string(e.Data()); got != tt.wantData {
				t.Errorf("data = %q, want %q", got, tt.wantData)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("converted event is not valid: %v", err)
			}
			checkSendable(t, e)
		})
	}
}

// checkSendable fails unless e encodes to an HTTP request whose every header Go's client sends
// (net/http refuses control characters but horizontal tab in header values).
func checkSendable(t *testing.T, e *event.Event) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(t.Context(), binding.ToMessage(e), req); err != nil {
		t.Fatalf("encoding as an HTTP request: %v", err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) {
				t.Fatalf("header %s: %q cannot be sent", k, v)
			}
		}
	}
}

func TestSourceConverterKeepsRecordTime(t *testing.T) {
	c, err := NewSourceConverter(testSource(""))
	if err != nil {
		t.Fatal(err)
	}
	r := rec(nil, nil)
	r.Timestamp = time.UnixMilli(1700000000001).In(time.FixedZone("X", 3600))
	if got := c.Convert(r).Time(); !got.Equal(time.UnixMilli(1700000000001)) || got.Location() != time.UTC {
		t.Errorf("time = %v, want 2023-11-14T22:13:20.001Z", got)
	}
}

func TestNewSourceConverterRefusesInvalidSettings(t *testing.T) {
	for name, src := range map[string]*contract.Source{
		"nil":                           nil,
		"no event source":               {},
		"event source not a URI":        {EventSource: "%zz"},
		"upper-case extension name":     {EventSource: "/s", Extensions: map[string]string{"Team": "a"}},
		"extension name with a dash":    {EventSource: "/s", Extensions: map[string]string{"my-ext": "a"}},
		"extension is a spec attribute": {EventSource: "/s", Extensions: map[string]string{"source": "a"}},
		"extension value with newline":  {EventSource: "/s", Extensions: map[string]string{"team": "a\nb"}},
	} {
		if _, err := NewSourceConverter(src); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJavaFloat(t *testing.T) {
	// Expected strings are Java's Float.toString / Double.toString (JDK 19+).
	for _, tt := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {0.1, 64, "0.1"}, {100, 64, "100.0"}, {-2.5, 64, "-2.5"},
		{123456.789, 64, "123456.789"}, {9999999, 64, "9999999.0"}, {1e7, 64, "1.0E7"},
		{0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"}, {1.234e-5, 64, "1.234E-5"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"}, {math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{math.NaN(), 64, "NaN"}, {math.Inf(1), 64, "Infinity"}, {math.Inf(-1), 64, "-Infinity"},
		{math.Copysign(0, -1), 64, "-0.0"}, {0, 64, "0.0"},
		{float64(float32(0.1)), 32, "0.1"}, {float64(float32(1.1)), 32, "1.1"},
		{math.MaxFloat32, 32, "3.4028235E38"}, {math.SmallestNonzeroFloat32, 32, "1.4E-45"},
		{float64(float32(16777216)), 32, "1.6777216E7"},
	} {
		if got := javaFloat(tt.f, tt.bits); got != tt.want {
			t.Errorf("javaFloat(%v, %d) = %q, want %q", tt.f, tt.bits, got, tt.want)
		}
	}
}

func FuzzSourceConvert(f *testing.F) {
	ce, err := Encode(newEvent(f, event.CloudEventsVersionV1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", []byte("k"), flatten(ce.Headers), ce.Value)
	f.Add("int", be32(7), "content-type\x00application/cloudevents+json", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`))
	f.Add("float", be64(math.Float64bits(0.25)), "Content-Type\x00TEXT/plain\x00h\x00v\x01", []byte("x"))
	f.Add("byte-array", []byte{0xff}, "ce_specversion\x001.0\x00ce_id\x00\n", []byte{})
	f.Add("string", []byte("\xff\x00"), "\x00\x00İ\x00\xff", []byte(nil))
	c := map[string]*SourceConverter{}
	for _, kt := range []contract.KeyType{"", contract.KeyString, contract.KeyInt, contract.KeyFloat, contract.KeyByteArray} {
		if c[string(kt)], err = NewSourceConverter(testSource(kt)); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, keyType string, key []byte, headers string, value []byte) {
		conv, ok := c[keyType]
		if !ok {
			conv = c[""]
		}
		r := &kgo.Record{Topic: "t", Partition: 1, Offset: 9, Key: key, Value: value}
		parts := strings.Split(headers, "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: parts[i], Value: []byte(parts[i+1])})
		}
		e := conv.Convert(r)
		if e.ID() == "" || e.Source() == "" || e.Type() == "" {
			t.Fatalf("event without id, source or type: %v", e)
		}
		if err := CheckStrings(e); err != nil {
			t.Fatalf("event holds strings that are not valid CloudEvents Strings: %v: %v", err, e)
		}
		if e.Extensions()["team"] != "blue" || e.Extensions()[OffsetExtension] != "9" {
			t.Fatalf("overrides or position missing: %v", e)
		}
		checkSendable(t, e)
	})
}
