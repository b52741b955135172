package ingress

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
)

// realContract routes /ns1/b1 to topic and /ns1/missing to a topic that does not exist.
func realContract(t *testing.T, servers []string, topic string) *contract.Contract {
	return &contract.Contract{
		SchemaVersion: contract.SchemaVersion,
		Generation:    1,
		Resources: []contract.Resource{{
			UID: "uid-b1", Kind: contract.KindBroker, Namespace: "ns1", Name: "b1",
			Topic: topic, BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/b1"},
		}, {
			UID: "uid-missing", Kind: contract.KindBroker, Namespace: "ns1", Name: "missing",
			Topic: kafkatest.TopicName(t), BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/missing"},
		}},
	}
}

func TestRealKafkaAcceptsOnlyWrittenEvents(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 3)
	i := newIngress(t, realContract(t, servers, topic))

	e := testEvent(t, event.CloudEventsVersionV1, "real-1")
	e.SetExtension("partitionkey", "k")
	req := binaryRequest(t, "/ns1/b1", e)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if rec := serve(i, req); rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %q, want 202", rec.Code, rec.Body)
	}
	r := consume(t, servers, topic, 1)[0]
	if diff := cmp.Diff(canonical(t, e), canonical(t, decode(t, r))); diff != "" {
		t.Errorf("record (-sent +read):\n%s", diff)
	}
	if string(r.Key) != "k" {
		t.Errorf("record key = %q, want %q", r.Key, "k")
	}

	if rec := serve(i, binaryRequest(t, "/ns1/nope", e)); rec.Code != http.StatusNotFound {
		t.Errorf("unknown broker: got %d %q, want 404", rec.Code, rec.Body)
	}
	if rec := serve(i, binaryRequest(t, "/ns1/missing", e)); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("broker whose topic is missing: got %d %q, want 503", rec.Code, rec.Body)
	}

	want := map[string]contract.ServingStatus{
		"uid-b1":      {Ready: true},
		"uid-missing": {Reason: "TopicNotFound"},
	}
	var got map[string]contract.ServingStatus
	for range 100 {
		got = i.Status()
		if m := got["uid-missing"]; m.Message != "" {
			m.Message = ""
			got["uid-missing"] = m
		}
		if cmp.Equal(want, got) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("Status (-want +got):\n%s", cmp.Diff(want, got))
}

// TestRealKafkaStoppedIs503 stops the only Kafka node: while it is down the ingress must answer
// 503, never 202, and once it is back events are accepted again.
func TestRealKafkaStoppedIs503(t *testing.T) {
	cluster := kafkatest.StartCluster(t, 1)
	topic := kafkatest.CreateTopic(t, cluster.Servers, 1)
	c := realContract(t, cluster.Servers, topic)
	c.Resources = append(c.Resources, sinkResource(cluster.Servers, topic, contract.ContentModeStructured))
	i := newIngress(t, c, ProduceTimeout(2*time.Second))

	post := func(id string) int {
		return serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, id))).Code
	}
	postSink := func(id string) int {
		return serve(i, binaryRequest(t, "http://"+sinkHost+"/ns1/s1", testEvent(t, event.CloudEventsVersionV1, id))).Code
	}
	if code := post("before"); code != http.StatusAccepted {
		t.Fatalf("before stopping Kafka: got %d, want 202", code)
	}

	cluster.KillNode(t, 1)
	for n := range 5 {
		if code := post("while-down"); code != http.StatusServiceUnavailable {
			t.Errorf("post %d while Kafka is down: got %d, want 503", n, code)
		}
		if code := postSink("while-down"); code != http.StatusServiceUnavailable {
			t.Errorf("sink post %d while Kafka is down: got %d, want 503", n, code)
		}
	}

	cluster.StartNode(t, 1)
	accepted := false
	for n := 0; n < 30 && !accepted; n++ {
		switch code := post("after"); code {
		case http.StatusAccepted:
			accepted = true
		case http.StatusServiceUnavailable:
			time.Sleep(time.Second)
		default:
			t.Fatalf("post %d after restarting Kafka: got %d, want 202 or 503", n, code)
		}
	}
	if !accepted {
		t.Fatal("no event was accepted within 30 posts after Kafka restarted")
	}
	// The first and last accepted events are in the topic; events answered 503 may or may not be.
	records := consume(t, cluster.Servers, topic, 1)
	if got := decode(t, records[0]).ID(); got != "before" {
		t.Errorf("first record is %q, want %q", got, "before")
	}
}

const sinkHost = "kafka-sink-ingress.knative-eventing.svc.cluster.local"

// sinkResource is KafkaSink ns1/s1 writing to topic in mode, on the sink ingress host.
func sinkResource(servers []string, topic string, mode contract.ContentMode) contract.Resource {
	return contract.Resource{
		UID: "uid-s1", Kind: contract.KindKafkaSink, Namespace: "ns1", Name: "s1",
		Topic: topic, BootstrapServers: servers, ContentMode: mode,
		Ingress: &contract.Ingress{Path: "/ns1/s1", PathHost: sinkHost},
	}
}

// TestRealKafkaSinkWritesEachContentMode posts one event to a binary-mode sink and one to a
// structured-mode sink, and reads both records back from Kafka: ce_ headers and the bare data,
// or one content-type header and the whole event as JSON; the key is the partitionkey either way.
// A sink that shares its path with a broker keeps its own events, and an unknown sink is 404.
func TestRealKafkaSinkWritesEachContentMode(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	binaryTopic := kafkatest.CreateTopic(t, servers, 1)
	structuredTopic := kafkatest.CreateTopic(t, servers, 1)
	brokerTopic := kafkatest.CreateTopic(t, servers, 1)
	structuredSink := sinkResource(servers, structuredTopic, contract.ContentModeStructured)
	structuredSink.UID, structuredSink.Name, structuredSink.Ingress = "uid-s2", "s2", &contract.Ingress{Path: "/ns1/s2", PathHost: sinkHost}
	i := newIngress(t, &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: 1, Resources: []contract.Resource{
		sinkResource(servers, binaryTopic, contract.ContentModeBinary),
		structuredSink,
		// A broker at the same path as the binary sink: the Host of the request decides.
		{UID: "uid-b", Kind: contract.KindBroker, Namespace: "ns1", Name: "s1", Topic: brokerTopic, BootstrapServers: servers,
			Ingress: &contract.Ingress{Path: "/ns1/s1"}},
	}})

	for _, tc := range []struct{ target, topic, wantContentType string }{
		{target: "http://" + sinkHost + "/ns1/s1", topic: binaryTopic, wantContentType: event.ApplicationJSON},
		{target: "http://" + sinkHost + "/ns1/s2", topic: structuredTopic, wantContentType: "application/cloudevents+json"},
	} {
		e := testEvent(t, event.CloudEventsVersionV1, "sink-"+tc.topic)
		e.SetExtension("partitionkey", "order-7")
		if rec := serve(i, structuredRequest(t, tc.target, e)); rec.Code != http.StatusAccepted {
			t.Fatalf("POST %s: got %d %q, want 202", tc.target, rec.Code, rec.Body)
		}
		r := consume(t, servers, tc.topic, 1)[0]
		if string(r.Key) != "order-7" {
			t.Errorf("%s: record key = %q, want the partitionkey", tc.target, r.Key)
		}
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if got := headers["content-type"]; got != tc.wantContentType {
			t.Errorf("%s: content-type header = %q, want %q", tc.target, got, tc.wantContentType)
		}
		if diff := cmp.Diff(canonical(t, e), canonical(t, decode(t, r))); diff != "" {
			t.Errorf("%s: record (-sent +read):\n%s", tc.target, diff)
		}
		binary := headers["ce_id"] != ""
		if wantBinary := tc.topic == binaryTopic; binary != wantBinary {
			t.Errorf("%s: record has ce_ headers = %t, want %t (headers %v)", tc.target, binary, wantBinary, headers)
		}
	}

	e := testEvent(t, event.CloudEventsVersionV1, "to-the-broker")
	if rec := serve(i, binaryRequest(t, "http://kafka-broker-ingress.knative-eventing.svc.cluster.local/ns1/s1", e)); rec.Code != http.StatusAccepted {
		t.Fatalf("POST to the broker sharing the sink's path: got %d %q, want 202", rec.Code, rec.Body)
	}
	if got := decode(t, consume(t, servers, brokerTopic, 1)[0]).ID(); got != "to-the-broker" {
		t.Errorf("the broker's topic holds %q, want the event posted to the broker host", got)
	}
	if rec := serve(i, binaryRequest(t, "http://"+sinkHost+"/ns1/nope", e)); rec.Code != http.StatusNotFound {
		t.Errorf("unknown sink: got %d %q, want 404", rec.Code, rec.Body)
	}
}
