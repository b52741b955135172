package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

const (
	brokerTopic  = "knative-broker-ns1-b1"
	channelTopic = "knative-messaging-kafka.ns1.c1"
	missingTopic = "knative-broker-ns1-missing"
	channelHost  = "c1-kn-channel.ns1.svc.cluster.local"
)

// testContract has a broker, a channel and a broker whose topic does not exist.
func testContract(servers []string) *contract.Contract {
	return &contract.Contract{
		SchemaVersion: contract.SchemaVersion,
		Generation:    1,
		Resources: []contract.Resource{{
			UID: "uid-b1", Kind: contract.KindBroker, Namespace: "ns1", Name: "b1",
			Topic: brokerTopic, BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/b1"},
		}, {
			UID: "uid-c1", Kind: contract.KindKafkaChannel, Namespace: "ns1", Name: "c1",
			Topic: channelTopic, BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/c1", Host: channelHost},
		}, {
			UID: "uid-missing", Kind: contract.KindBroker, Namespace: "ns1", Name: "missing",
			Topic: missingTopic, BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/missing"},
		}},
	}
}

// newIngress applies c to a new Ingress that is closed when the test ends.
func newIngress(t testing.TB, c *contract.Contract, opts ...Option) *Ingress {
	t.Helper()
	opts = append([]Option{Linger(0), ProduceTimeout(5 * time.Second), TopicCheckInterval(100 * time.Millisecond)}, opts...)
	i := New(zaptest.NewLogger(t), opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := i.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if c != nil {
		if err := i.Apply(context.Background(), c); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return i
}

func fakeKafka(t testing.TB) []string {
	return kafkatest.Fake(t, kfake.SeedTopics(1, brokerTopic, channelTopic))
}

// testEvent is a valid event of version with a JSON payload.
func testEvent(t *testing.T, version, id string) *event.Event {
	t.Helper()
	e := event.New(version)
	e.SetID(id)
	e.SetSource("/test/source")
	e.SetType("dev.knkafka.test")
	e.SetSubject("subject")
	e.SetTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	e.SetExtension("myext", "value")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"id": id}); err != nil {
		t.Fatal(err)
	}
	return &e
}

// binaryRequest is e as a binary-mode HTTP request to target.
func binaryRequest(t *testing.T, target string, e *event.Event) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(e.Data()))
	req.Header.Set("Ce-Specversion", e.SpecVersion())
	req.Header.Set("Ce-Id", e.ID())
	req.Header.Set("Ce-Source", e.Source())
	req.Header.Set("Ce-Type", e.Type())
	if s := e.Subject(); s != "" {
		req.Header.Set("Ce-Subject", s)
	}
	if !e.Time().IsZero() {
		req.Header.Set("Ce-Time", e.Time().Format(time.RFC3339Nano))
	}
	for k, v := range e.Extensions() {
		req.Header.Set("Ce-"+k, v.(string))
	}
	if ct := e.DataContentType(); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req
}

// structuredRequest is e as a structured-mode HTTP request to target.
func structuredRequest(t *testing.T, target string, e *event.Event) *http.Request {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(b))
	req.Header.Set("Content-Type", event.ApplicationCloudEventsJSON)
	return req
}

func batchRequest(t *testing.T, target string, events ...*event.Event) *http.Request {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(b))
	req.Header.Set("Content-Type", event.ApplicationCloudEventsBatchJSON)
	return req
}

func serve(i *Ingress, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	i.ServeHTTP(rec, req)
	return rec
}

// consume reads n records from the start of topic, failing the test after 20s.
func consume(t *testing.T, servers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s before timing out", len(out), n, topic)
		}
		for _, err := range fs.Errors() {
			t.Logf("fetch %s/%d: %v", err.Topic, err.Partition, err.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// canonical is e in the CloudEvents JSON format, to compare events.
func canonical(t *testing.T, e *event.Event) map[string]any {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func decode(t *testing.T, r *kgo.Record) *event.Event {
	t.Helper()
	e, err := cekafka.Decode(r)
	if err != nil {
		t.Fatalf("decoding record at offset %d: %v", r.Offset, err)
	}
	return e
}

func TestAcceptsEveryMode(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers))

	partitioned := testEvent(t, event.CloudEventsVersionV1, "partitioned")
	partitioned.SetExtension("partitionkey", "key-1")

	type sent struct {
		event       *event.Event
		wantKey     string
		traceparent string
	}
	tests := []struct {
		name string
		req  func() (*http.Request, sent)
	}{{
		name: "binary 1.0 with a partition key",
		req: func() (*http.Request, sent) {
			return binaryRequest(t, "/ns1/b1", partitioned), sent{event: partitioned, wantKey: "key-1"}
		},
	}, {
		name: "structured 1.0 with a trace",
		req: func() (*http.Request, sent) {
			e := testEvent(t, event.CloudEventsVersionV1, "structured")
			req := structuredRequest(t, "/ns1/b1", e)
			tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			req.Header.Set("traceparent", tp)
			return req, sent{event: e, traceparent: tp}
		},
	}, {
		name: "binary 0.3",
		req: func() (*http.Request, sent) {
			e := testEvent(t, event.CloudEventsVersionV03, "binary-03")
			return binaryRequest(t, "/ns1/b1", e), sent{event: e}
		},
	}, {
		name: "structured 0.3 on a path with a trailing slash",
		req: func() (*http.Request, sent) {
			e := testEvent(t, event.CloudEventsVersionV03, "structured-03")
			return structuredRequest(t, "/ns1/b1/", e), sent{event: e}
		},
	}}
	var want []sent
	for _, tt := range tests {
		req, s := tt.req()
		if rec := serve(i, req); rec.Code != http.StatusAccepted {
			t.Fatalf("%s: got %d %q, want 202", tt.name, rec.Code, rec.Body)
		}
		want = append(want, s)
	}

	records := consume(t, servers, brokerTopic, len(want))
	for n, r := range records {
		w := want[n]
		if diff := cmp.Diff(canonical(t, w.event), canonical(t, decode(t, r))); diff != "" {
			t.Errorf("%s: record (-sent +read):\n%s", tests[n].name, diff)
		}
		if got := string(r.Key); got != w.wantKey {
			t.Errorf("%s: record key = %q, want %q", tests[n].name, got, w.wantKey)
		}
		if tp, _ := cekafka.TraceHeaders(r); tp != w.traceparent {
			t.Errorf("%s: traceparent = %q, want %q", tests[n].name, tp, w.traceparent)
		}
	}
	if got := testutil.ToFloat64(i.metrics.requests.WithLabelValues("ns1", "b1", contract.KindBroker, "202")); got != float64(len(want)) {
		t.Errorf("requests_total{code=202} = %v, want %d", got, len(want))
	}
	if got := testutil.ToFloat64(i.metrics.bytesIn.WithLabelValues("ns1", "b1", contract.KindBroker)); got <= 0 {
		t.Errorf("request_bytes_total = %v, want > 0", got)
	}
	// One request at a time, each waiting for its acknowledgement with no linger: one produce
	// request per event, none for the topic checks.
	if got := testutil.ToFloat64(i.metrics.produceRequests); got != float64(len(want)) {
		t.Errorf("kafka_produce_requests_total = %v, want %d", got, len(want))
	}
	var m dto.Metric
	if err := i.metrics.latency.WithLabelValues("ns1", "b1", contract.KindBroker).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram().GetSampleCount(); got != uint64(len(want)) {
		t.Errorf("produce_duration_seconds count = %d, want %d", got, len(want))
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers))

	invalid := testEvent(t, event.CloudEventsVersionV1, "invalid")
	invalid.SetType("")
	if rec := serve(i, batchRequest(t, "/ns1/c1", testEvent(t, event.CloudEventsVersionV1, "dropped"), invalid)); rec.Code != http.StatusBadRequest {
		t.Fatalf("batch with an invalid event: got %d %q, want 400", rec.Code, rec.Body)
	} else if !strings.Contains(rec.Body.String(), "cloudevent 1 of the batch") {
		t.Errorf("batch with an invalid event: reason %q does not name the event", rec.Body)
	}

	batch := []*event.Event{
		testEvent(t, event.CloudEventsVersionV1, "b-1"),
		testEvent(t, event.CloudEventsVersionV03, "b-2"),
		testEvent(t, event.CloudEventsVersionV1, "b-3"),
	}
	if rec := serve(i, batchRequest(t, "/ns1/c1", batch...)); rec.Code != http.StatusAccepted {
		t.Fatalf("valid batch: got %d %q, want 202", rec.Code, rec.Body)
	}
	// The rejected batch wrote nothing: the topic starts with the accepted one.
	records := consume(t, servers, channelTopic, len(batch))
	for n, r := range records {
		if diff := cmp.Diff(canonical(t, batch[n]), canonical(t, decode(t, r))); diff != "" {
			t.Errorf("record %d (-sent +read):\n%s", n, diff)
		}
	}
}

func TestRoutesChannelsByHost(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers))
	e := testEvent(t, event.CloudEventsVersionV1, "by-host")
	req := binaryRequest(t, "/", e)
	req.Host = "C1-kn-channel.ns1.svc.cluster.local:80"
	if rec := serve(i, req); rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %q, want 202", rec.Code, rec.Body)
	}
	records := consume(t, servers, channelTopic, 1)
	if diff := cmp.Diff(canonical(t, e), canonical(t, decode(t, records[0]))); diff != "" {
		t.Errorf("record (-sent +read):\n%s", diff)
	}
	if got := testutil.ToFloat64(i.metrics.requests.WithLabelValues("ns1", "c1", contract.KindKafkaChannel, "202")); got != 1 {
		t.Errorf("channel requests_total{code=202} = %v, want 1", got)
	}
}

func TestRejects(t *testing.T) {
	servers := fakeKafka(t)
	i := newIngress(t, testContract(servers), MaxRequestBytes(1024))

	valid := func() *http.Request {
		return binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "x"))
	}
	body := func(contentType, s string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/ns1/b1", strings.NewReader(s))
		req.Header.Set("Content-Type", contentType)
		return req
	}
	tests := []struct {
		name       string
		req        func() *http.Request
		wantCode   int
		wantReason string
	}{{
		name:       "a request without CloudEvents headers",
		req:        func() *http.Request { return body("application/json", `{}`) },
		wantCode:   http.StatusBadRequest,
		wantReason: "not a cloudevent",
	}, {
		name: "an unsupported specversion",
		req: func() *http.Request {
			r := valid()
			r.Header.Set("Ce-Specversion", "2.0")
			return r
		},
		wantCode:   http.StatusBadRequest,
		wantReason: `unsupported cloudevents specversion "2.0"`,
	}, {
		name: "a binary event without a source",
		req: func() *http.Request {
			r := valid()
			r.Header.Del("Ce-Source")
			return r
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "source",
	}, {
		name: "a binary event with a malformed time",
		req: func() *http.Request {
			r := valid()
			r.Header.Set("Ce-Time", "yesterday")
			return r
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "time",
	}, {
		name:       "a structured event that is not JSON",
		req:        func() *http.Request { return body(event.ApplicationCloudEventsJSON, `{"specversion":`) },
		wantCode:   http.StatusBadRequest,
		wantReason: "reading structured-mode cloudevent",
	}, {
		name: "a structured event without an id",
		req: func() *http.Request {
			return body(event.ApplicationCloudEventsJSON, `{"specversion":"1.0","source":"/s","type":"t"}`)
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "id",
	}, {
		name: "a structured event whose id holds a control character",
		req: func() *http.Request {
			return body(event.ApplicationCloudEventsJSON, `{"specversion":"1.0","id":"a\u0001b","source":"/s","type":"t"}`)
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "attribute id: control character U+0001",
	}, {
		name: "a structured event whose extension holds a C1 control character",
		req: func() *http.Request {
			return body(event.ApplicationCloudEventsJSON, `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":"a\u0085b"}`)
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "extension ext: control character U+0085",
	}, {
		name: "a batch whose second event's type holds a tab",
		req: func() *http.Request {
			return body(event.ApplicationCloudEventsBatchJSON, `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},`+
				`{"specversion":"1.0","id":"2","source":"/s","type":"a\tb"}]`)
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "invalid cloudevent 1 of the batch: attribute type: control character U+0009",
	}, {
		name: "a binary event whose id holds a tab (HTTP allows it in a header, CloudEvents does not)",
		req: func() *http.Request {
			r := valid()
			r.Header.Set("Ce-Id", "a\tb")
			return r
		},
		wantCode:   http.StatusBadRequest,
		wantReason: "attribute id: control character U+0009",
	}, {
		name:       "a batch that is not a JSON array",
		req:        func() *http.Request { return body(event.ApplicationCloudEventsBatchJSON, `{}`) },
		wantCode:   http.StatusBadRequest,
		wantReason: "reading batch",
	}, {
		name:       "an empty batch",
		req:        func() *http.Request { return body(event.ApplicationCloudEventsBatchJSON, `[]`) },
		wantCode:   http.StatusBadRequest,
		wantReason: "no cloudevents",
	}, {
		name: "a body over the limit",
		req: func() *http.Request {
			r := valid()
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 2000)))
			r.ContentLength = 2000
			return r
		},
		wantCode:   http.StatusRequestEntityTooLarge,
		wantReason: "exceeds the limit of 1024 bytes",
	}, {
		name: "a body of unknown length over the limit",
		req: func() *http.Request {
			r := valid()
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 2000)))
			r.ContentLength = -1
			return r
		},
		wantCode:   http.StatusRequestEntityTooLarge,
		wantReason: "exceeds the limit of 1024 bytes",
	}, {
		name: "an unknown broker",
		req: func() *http.Request {
			return binaryRequest(t, "/ns1/nope", testEvent(t, event.CloudEventsVersionV1, "x"))
		},
		wantCode:   http.StatusNotFound,
		wantReason: "no broker, channel or sink",
	}, {
		name: "a path below a broker",
		req: func() *http.Request {
			return binaryRequest(t, "/ns1/b1/more", testEvent(t, event.CloudEventsVersionV1, "x"))
		},
		wantCode:   http.StatusNotFound,
		wantReason: "no broker, channel or sink",
	}, {
		name: "GET",
		req: func() *http.Request {
			r := valid()
			r.Method = http.MethodGet
			return r
		},
		wantCode:   http.StatusMethodNotAllowed,
		wantReason: "method GET is not allowed",
	}, {
		name: "PUT",
		req: func() *http.Request {
			r := valid()
			r.Method = http.MethodPut
			return r
		},
		wantCode:   http.StatusMethodNotAllowed,
		wantReason: "method PUT is not allowed",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(i, tt.req())
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantReason) {
				t.Errorf("got %d %q, want %d with a reason mentioning %q", rec.Code, rec.Body, tt.wantCode, tt.wantReason)
			}
		})
	}
	if got := testutil.ToFloat64(i.metrics.requests.WithLabelValues("ns1", "b1", contract.KindBroker, "400")); got != 12 {
		t.Errorf("requests_total{code=400} = %v, want 12", got)
	}
	if got := testutil.ToFloat64(i.metrics.requests.WithLabelValues("", "", "", "404")); got != 2 {
		t.Errorf("unrouted requests_total{code=404} = %v, want 2", got)
	}
}

func TestWebhookValidation(t *testing.T) {
	i := newIngress(t, testContract(fakeKafka(t)))
	req := httptest.NewRequest(http.MethodOptions, "/ns1/b1", nil)
	req.Header.Set("WebHook-Request-Origin", "eventemitter.example.com")
	req.Header.Set("WebHook-Request-Rate", "120")
	rec := serve(i, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %q, want 200", rec.Code, rec.Body)
	}
	want := map[string]string{
		"Webhook-Allowed-Origin": "eventemitter.example.com",
		"Webhook-Allowed-Rate":   "*",
		"Allow":                  "POST",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = rec.Header().Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestMissingTopicIs503(t *testing.T) {
	i := newIngress(t, testContract(fakeKafka(t)))
	rec := serve(i, binaryRequest(t, "/ns1/missing", testEvent(t, event.CloudEventsVersionV1, "x")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %q, want 503", rec.Code, rec.Body)
	}
	if got := testutil.ToFloat64(i.metrics.requests.WithLabelValues("ns1", "missing", contract.KindBroker, "503")); got != 1 {
		t.Errorf("requests_total{code=503} = %v, want 1", got)
	}
}

func TestStatus(t *testing.T) {
	i := newIngress(t, testContract(fakeKafka(t)))
	want := map[string]contract.ServingStatus{
		"uid-b1":      {Ready: true},
		"uid-c1":      {Ready: true},
		"uid-missing": {Reason: "TopicNotFound", Message: `topic "knative-broker-ns1-missing" does not exist`},
	}
	var got map[string]contract.ServingStatus
	for range 100 {
		if got = i.Status(); cmp.Equal(want, got) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("Status (-want +got):\n%s", cmp.Diff(want, got))
}

func TestStatusWithoutProducer(t *testing.T) {
	c := testContract(nil)
	c.Resources = c.Resources[:1]
	i := New(zaptest.NewLogger(t))
	defer i.Close(context.Background())
	if err := i.Apply(context.Background(), c); err == nil {
		t.Fatal("Apply of a resource without bootstrap servers succeeded, want an error")
	}
	got := i.Status()["uid-b1"]
	if got.Ready || got.Reason != "ProducerUnavailable" {
		t.Errorf("Status = %+v, want not ready with reason ProducerUnavailable", got)
	}
	if rec := serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "x"))); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("got %d %q, want 503", rec.Code, rec.Body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	i := newIngress(t, nil)
	probe := func(path string) int { return serve(i, httptest.NewRequest(http.MethodGet, path, nil)).Code }
	if got := probe(HealthzPath); got != http.StatusOK {
		t.Errorf("healthz before Apply = %d, want 200", got)
	}
	if got := probe(ReadyzPath); got != http.StatusServiceUnavailable {
		t.Errorf("readyz before Apply = %d, want 503", got)
	}
	if got := probe("/ns1/b1"); got != http.StatusServiceUnavailable {
		t.Errorf("an event before Apply = %d, want 503", got)
	}
	if err := i.Apply(context.Background(), testContract(fakeKafka(t))); err != nil {
		t.Fatal(err)
	}
	if got := probe(ReadyzPath); got != http.StatusOK {
		t.Errorf("readyz after Apply = %d, want 200", got)
	}
	for range 2 {
		if err := i.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if got := probe(ReadyzPath); got != http.StatusServiceUnavailable {
		t.Errorf("readyz after Close = %d, want 503", got)
	}
	if rec := serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "x"))); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("an event after Close = %d %q, want 503", rec.Code, rec.Body)
	}
	if err := i.Apply(context.Background(), testContract(nil)); err == nil {
		t.Error("Apply after Close succeeded, want an error")
	}
}

func TestApplyMovesResourcesBetweenClusters(t *testing.T) {
	first, second := fakeKafka(t), fakeKafka(t)
	i := newIngress(t, testContract(first))
	if rec := serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "first"))); rec.Code != http.StatusAccepted {
		t.Fatalf("first cluster: got %d %q, want 202", rec.Code, rec.Body)
	}
	if rec := serve(i, binaryRequest(t, "/ns1/c1", testEvent(t, event.CloudEventsVersionV1, "first"))); rec.Code != http.StatusAccepted {
		t.Fatalf("first cluster channel: got %d %q, want 202", rec.Code, rec.Body)
	}
	old := i.snap.Load().producers

	c := testContract(second)
	c.Generation = 2
	c.Resources = c.Resources[:1] // the channel leaves
	if err := i.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := testutil.CollectAndCount(i.metrics.requests, "knkafka_ingress_requests_total"); got != 1 {
		t.Errorf("requests_total has %d series after the channel left, want 1 (the broker's)", got)
	}
	e := testEvent(t, event.CloudEventsVersionV1, "second")
	if rec := serve(i, binaryRequest(t, "/ns1/b1", e)); rec.Code != http.StatusAccepted {
		t.Fatalf("second cluster: got %d %q, want 202", rec.Code, rec.Body)
	}
	if got := decode(t, consume(t, second, brokerTopic, 1)[0]); got.ID() != "second" {
		t.Errorf("second cluster holds event %q, want %q", got.ID(), "second")
	}
	if rec := serve(i, binaryRequest(t, "/", e)); rec.Code != http.StatusNotFound {
		t.Errorf("removed channel: got %d, want 404", rec.Code)
	}
	if got := len(i.snap.Load().producers); got != 1 {
		t.Errorf("%d producers after the move, want 1", got)
	}
	for _, p := range old {
		if err := p.client.Ping(context.Background()); err == nil {
			t.Error("the first cluster's producer still works after its resources left")
		}
	}
}

func TestWithRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	i := newIngress(t, testContract(fakeKafka(t)), WithRegistry(reg))
	serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, "x")))
	n, err := testutil.GatherAndCount(reg, "knkafka_ingress_requests_total", "knkafka_ingress_produce_duration_seconds",
		"knkafka_ingress_request_bytes_total", "knkafka_ingress_kafka_produce_requests_total")
	if err != nil {
		t.Fatal(err)
	}
	// Every resource's series exist from Apply on: 3 resources × 3 metrics, and the produce
	// request counter of the whole ingress.
	if n != 10 {
		t.Errorf("registry holds %d series, want 10", n)
	}
}
