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
	i := newIngress(t, realContract(t, cluster.Servers, topic), ProduceTimeout(2*time.Second))

	post := func(id string) int {
		return serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, id))).Code
	}
	if code := post("before"); code != http.StatusAccepted {
		t.Fatalf("before stopping Kafka: got %d, want 202", code)
	}

	cluster.KillNode(t, 1)
	for n := range 5 {
		if code := post("while-down"); code != http.StatusServiceUnavailable {
			t.Errorf("post %d while Kafka is down: got %d, want 503", n, code)
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
