package dataplane_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/dataplane/dataplanetest"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
	"knkafka.dev/test/kafkatest"
)

// Distinctive passwords, so that the checks at the end find them wherever they leaked.
const (
	alicePass = "alice-pw-Wd4Kq8"
	bobPass   = "bob-pw-Ys6Np3"
	wrongPass = "wrong-pw-Cm9Fv5"
)

const (
	brokerTopic = "knative-broker-team-b1"
	sourceTopic = "orders"
)

var authRef = kafkaauth.Ref{Namespace: "knative-eventing", Name: "kafka-auth"}

func saslSecret(user, pass string) map[string][]byte {
	return map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "user": []byte(user), "password": []byte(pass)}
}

// The whole data plane against a cluster that requires SASL: a Broker and a KafkaSource whose
// Secrets exist deliver; a Broker whose Secret is missing is refused by the ingress (503) and
// its Trigger is not Ready, both with the reason and the Secret's name, without disturbing the
// others; rotating the Broker's Secret makes new clients and restarts its Trigger with no event
// lost; a password the cluster refuses becomes both roles' reason. No password ever appears in
// the logs, the status or the metrics.
func TestSecuredDataPlane(t *testing.T) {
	servers := kafkatest.FakeSASL(t, map[string]string{"alice": alicePass, "bob": bobPass},
		kfake.SeedTopics(1, brokerTopic, sourceTopic))
	sub := newSubscriber(t)
	secrets := kafkaauth.NewStatic(map[kafkaauth.Ref]map[string][]byte{
		authRef: saslSecret("alice", alicePass),
		{Namespace: "team", Name: "source-creds"}: {"u": []byte("bob"), "p": []byte(bobPass)},
	})
	h := dataplanetest.Start(t, secrets)
	s, logs := h.Server, h.Logs
	h.Apply(securedContract(servers, sub.URL))

	dataplanetest.WaitStatus(t, s, 30*time.Second, "the broker, its trigger and the source served; the other broker refused",
		dataplanetest.IngressIs("uid-b1", ""), dataplanetest.EgressIs("uid-t1", ""), dataplanetest.EgressIs("uid-src", ""),
		dataplanetest.IngressIs("uid-b2", kafkaconn.ReasonSecretNotFound), dataplanetest.EgressIs("uid-t2", kafkaconn.ReasonSecretNotFound))
	st := s.Status()
	if st.Generation != 1 {
		t.Errorf("applied generation %d, want 1: a missing secret must not hold back the other objects' Ready", st.Generation)
	}
	for _, m := range []string{st.Ingresses["uid-b2"].Message, st.Egresses["uid-t2"].Message} {
		if !strings.Contains(m, "knative-eventing/absent") {
			t.Errorf("status message %q does not name the missing secret", m)
		}
	}
	post := func(path, id string) (int, string) {
		return postEvent(t, h.IngressURL+path, id)
	}
	if code, body := post("/team/b2", "refused"); code != http.StatusServiceUnavailable || !strings.Contains(body, "knative-eventing/absent") {
		t.Errorf("the broker without its secret answered %d %q, want 503 naming the secret", code, body)
	}
	for n := range 5 {
		if code, body := post("/team/b1", fmt.Sprintf("before-%d", n)); code != http.StatusAccepted {
			t.Fatalf("the broker answered %d %q, want 202", code, body)
		}
	}
	produceAs(t, servers, "bob", bobPass, sourceTopic, "from-the-source")

	// Rotation: the Server follows the Secret by itself.
	secrets.Set(authRef, saslSecret("bob", bobPass))
	waitLog(t, logs, "the trigger restarted with the new credentials", func(text string) bool {
		return strings.Count(text, `"msg":"egress started","egress":"team/t1"`) >= 2
	})
	dataplanetest.WaitStatus(t, s, 30*time.Second, "the broker and its trigger served again", dataplanetest.IngressIs("uid-b1", ""), dataplanetest.EgressIs("uid-t1", ""))
	for n := range 5 {
		if code, body := post("/team/b1", fmt.Sprintf("after-%d", n)); code != http.StatusAccepted {
			t.Fatalf("after the rotation the broker answered %d %q, want 202", code, body)
		}
	}
	sub.waitFor(t, "before-0", "before-1", "before-2", "before-3", "before-4",
		"after-0", "after-1", "after-2", "after-3", "after-4", "partition:0/offset:0")
	if sub.has("refused") {
		t.Error("an event the ingress refused was delivered")
	}

	// A password the cluster refuses.
	secrets.Set(authRef, saslSecret("alice", wrongPass))
	dataplanetest.WaitStatus(t, s, 30*time.Second, "the broker and its trigger refused by Kafka",
		dataplanetest.IngressIs("uid-b1", kafkaconn.ReasonSASLAuthenticationFailed), dataplanetest.EgressIs("uid-t1", kafkaconn.ReasonSASLAuthenticationFailed))
	if code, body := post("/team/b1", "wrong"); code != http.StatusServiceUnavailable || !strings.Contains(body, "knative-eventing/kafka-auth") {
		t.Errorf("with a refused password the broker answered %d %q, want 503 naming the secret", code, body)
	}
	dataplanetest.WaitStatus(t, s, 30*time.Second, "the source unaffected", dataplanetest.EgressIs("uid-src", ""))

	// Nothing anyone can read holds a password.
	for what, text := range map[string]string{
		"the logs":    logs.String(),
		"/status":     get(t, h.AdminURL+contract.StatusPath),
		"/metrics":    get(t, h.AdminURL+"/metrics"),
		"the answers": fmt.Sprint(s.Status()),
	} {
		for _, pw := range []string{alicePass, bobPass, wrongPass} {
			if strings.Contains(text, pw) {
				t.Errorf("%s hold a password (%d bytes searched)", what, len(text))
			}
		}
	}
	if !strings.Contains(logs.String(), "SASL") {
		t.Error("the logs never mention SASL: the check above may have searched the wrong output")
	}
}

// securedContract: Broker b1 (Secret knative-eventing/kafka-auth) with Trigger t1, Broker b2
// (Secret knative-eventing/absent, which does not exist) with Trigger t2, and KafkaSource src
// whose spec.net names keys of team/source-creds.
func securedContract(servers []string, sink string) *contract.Contract {
	trigger := func(name string) contract.Egress {
		return contract.Egress{UID: "uid-" + name, Kind: contract.KindTrigger, Namespace: "team", Name: name,
			ConsumerGroup: "knative-trigger-team-" + name, Destination: sink, Reply: contract.Reply{Kind: contract.ReplyTopic}}
	}
	return &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: 1, Resources: []contract.Resource{{
		UID: "uid-b1", Kind: contract.KindBroker, Namespace: "team", Name: "b1", Topic: brokerTopic, BootstrapServers: servers,
		Auth: &contract.SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"}, Ingress: &contract.Ingress{Path: "/team/b1"},
		Egresses: []contract.Egress{trigger("t1")},
	}, {
		UID: "uid-b2", Kind: contract.KindBroker, Namespace: "team", Name: "b2", Topic: brokerTopic, BootstrapServers: servers,
		Auth: &contract.SecretRef{Namespace: "knative-eventing", Name: "absent"}, Ingress: &contract.Ingress{Path: "/team/b2"},
		Egresses: []contract.Egress{trigger("t2")},
	}, {
		UID: "uid-src", Kind: contract.KindKafkaSource, Namespace: "team", Name: "src", Topics: []string{sourceTopic},
		BootstrapServers: servers, Source: &contract.Source{EventSource: "/apis/v1/namespaces/team/kafkasources/src"},
		Net: &kafkaconn.Net{SASL: kafkaconn.NetSASL{Enable: true,
			User:     kafkaconn.KeyRef{Secret: "source-creds", Key: "u"},
			Password: kafkaconn.KeyRef{Secret: "source-creds", Key: "p"}}},
		Egresses: []contract.Egress{{UID: "uid-src", Kind: contract.KindKafkaSource, Namespace: "team", Name: "src",
			ConsumerGroup: "knative-kafka-source-src", Destination: sink, Reply: contract.Reply{Kind: contract.ReplyDiscard},
			Order: contract.Ordered, InitialOffset: contract.OffsetEarliest}},
	}}}
}

// chanSource hands the data plane the contracts sent on its channel.
func waitLog(t *testing.T, logs *dataplanetest.Buffer, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subscriber records the ids of the events POSTed to it.
type subscriber struct {
	URL string
	mu  sync.Mutex
	ids map[string]int
}

func newSubscriber(t *testing.T) *subscriber {
	s := &subscriber{ids: map[string]int{}}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ids[r.Header.Get("Ce-Id")]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "http://" + ln.Addr().String()
	return s
}

func (s *subscriber) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id] > 0
}

func (s *subscriber) waitFor(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var missing []string
		for _, id := range ids {
			if !s.has(id) {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v not delivered within 30s", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postEvent(t *testing.T, url, id string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/test")
	req.Header.Set("Ce-Type", "dev.knkafka.test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// produceAs writes one plain (non-CloudEvent) record to topic, authenticated as user.
func produceAs(t *testing.T, servers []string, user, pass, topic, value string) {
	t.Helper()
	sec, err := kafkaconn.ParseSecret(saslSecret(user, pass))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := kafkaconn.Opts(servers, sec)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}
