package ingress

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
	"knkafka.dev/test/kafkatest"
)

// Distinctive passwords, so that a leak into a status or a response would be found.
const (
	alicePass = "alice-pw-Vq3Lx9"
	bobPass   = "bob-pw-Tn8Rk2"
	wrongPass = "wrong-pw-Gh5Zc1"
)

func saslSecret(user, pass string) map[string][]byte {
	return map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "user": []byte(user), "password": []byte(pass)}
}

// securedContract has a broker whose Secret is ns1/auth-b1 and a channel whose Secret,
// ns1/auth-c1, may not exist.
func securedContract(servers []string) *contract.Contract {
	c := testContract(servers)
	c.Resources = c.Resources[:2]
	c.Resources[0].Auth = &contract.SecretRef{Namespace: "ns1", Name: "auth-b1"}
	c.Resources[1].Auth = &contract.SecretRef{Namespace: "ns1", Name: "auth-c1"}
	return c
}

func waitStatus(t *testing.T, i *Ingress, uid string, ok func(contract.ServingStatus) bool) contract.ServingStatus {
	t.Helper()
	var st contract.ServingStatus
	for range 200 {
		if st = i.Status()[uid]; ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("status of %s stayed %+v", uid, st)
	return st
}

func ready(st contract.ServingStatus) bool { return st.Ready }

func reason(r kafkaconn.Reason) func(contract.ServingStatus) bool {
	return func(st contract.ServingStatus) bool { return st.Reason == string(r) }
}

func noSecretIn(t *testing.T, what, text string) {
	t.Helper()
	for _, v := range []string{alicePass, bobPass, wrongPass} {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a password: %q", what, text)
		}
	}
}

// A resource whose Secret is missing is not served — Status names the Secret, its requests get
// 503 — while the other resource, reached with SASL, is; a rotated Secret makes a new producer
// and closes the old one; a password the cluster refuses is the resource's reason and 503.
func TestSecretsDecideWhatIsServed(t *testing.T) {
	servers := kafkatest.FakeSASL(t, map[string]string{"alice": alicePass, "bob": bobPass},
		kfake.SeedTopics(1, brokerTopic, channelTopic))
	secrets := kafkaauth.NewStatic(map[kafkaauth.Ref]map[string][]byte{
		{Namespace: "ns1", Name: "auth-b1"}: saslSecret("alice", alicePass),
	})
	security := func(r *contract.Resource) (*kafkaconn.Security, error) { return kafkaauth.Resolve(secrets, r) }
	i := New(zaptest.NewLogger(t), Linger(0), ProduceTimeout(5*time.Second), TopicCheckInterval(100*time.Millisecond), WithSecurity(security))
	t.Cleanup(func() { _ = i.Close(context.Background()) })
	c := securedContract(servers)
	apply := func() error { return i.Apply(context.Background(), c) }
	// A missing Secret is the resource's status, not a failure to apply the contract: the
	// generation counts as applied, so the other resources' owners can become Ready.
	if err := apply(); err != nil {
		t.Fatalf("Apply = %v, want nil: the contract is applied, one resource is not served", err)
	}

	waitStatus(t, i, "uid-b1", ready)
	st := waitStatus(t, i, "uid-c1", reason(kafkaconn.ReasonSecretNotFound))
	if !strings.Contains(st.Message, `"ns1/auth-c1"`) {
		t.Errorf("status message %q does not name the secret", st.Message)
	}
	post := func(path, id string) (int, string) {
		rec := serve(i, binaryRequest(t, path, testEvent(t, event.CloudEventsVersionV1, id)))
		return rec.Code, rec.Body.String()
	}
	if code, body := post("/ns1/c1", "c-1"); code != http.StatusServiceUnavailable || !strings.Contains(body, "ns1/auth-c1") {
		t.Errorf("the channel without its secret answered %d %q, want 503 naming the secret", code, body)
	}
	if code, body := post("/ns1/b1", "b-1"); code != http.StatusAccepted {
		t.Fatalf("the broker answered %d %q, want 202", code, body)
	}

	// Rotation: other credentials, another producer; the old one is closed.
	before := i.snap.Load()
	oldProducer, _ := before.producer("uid-b1")
	secrets.Set(kafkaauth.Ref{Namespace: "ns1", Name: "auth-b1"}, saslSecret("bob", bobPass))
	_ = apply()
	after := i.snap.Load()
	if before.keys["uid-b1"] == after.keys["uid-b1"] {
		t.Fatal("the rotated secret kept the producer key")
	}
	if len(after.producers) != 1 {
		t.Errorf("%d producers after the rotation, want 1 (the old one closed)", len(after.producers))
	}
	if err := oldProducer.client.Ping(context.Background()); err == nil {
		t.Error("the producer of the old credentials still answers; want it closed")
	}
	waitStatus(t, i, "uid-b1", ready)
	if code, body := post("/ns1/b1", "b-2"); code != http.StatusAccepted {
		t.Fatalf("after the rotation the broker answered %d %q, want 202", code, body)
	}

	// Refused credentials: the reason, a message naming the secret and keys, and 503 at once.
	secrets.Set(kafkaauth.Ref{Namespace: "ns1", Name: "auth-b1"}, saslSecret("alice", wrongPass))
	_ = apply()
	st = waitStatus(t, i, "uid-b1", reason(kafkaconn.ReasonSASLAuthenticationFailed))
	if !strings.Contains(st.Message, `"ns1/auth-b1"`) || !strings.Contains(st.Message, `"password"`) {
		t.Errorf("status message %q does not name the secret and its keys", st.Message)
	}
	start := time.Now()
	code, body := post("/ns1/b1", "b-3")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "ns1/auth-b1") {
		t.Errorf("with a refused password the broker answered %d %q, want 503 naming the secret", code, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the refusal took %s; want an answer at once, not after the produce timeout", d)
	}
	noSecretIn(t, "the 503 body", body)
	for uid, st := range i.Status() {
		noSecretIn(t, "the status of "+uid, st.Message)
	}

	// Both Secrets right: both served, and what was accepted is in the topic.
	secrets.Set(kafkaauth.Ref{Namespace: "ns1", Name: "auth-b1"}, saslSecret("bob", bobPass))
	secrets.Set(kafkaauth.Ref{Namespace: "ns1", Name: "auth-c1"}, saslSecret("alice", alicePass))
	if err := apply(); err != nil {
		t.Fatalf("Apply with every secret: %v", err)
	}
	waitStatus(t, i, "uid-b1", ready)
	waitStatus(t, i, "uid-c1", ready)
	if code, body := post("/ns1/c1", "c-2"); code != http.StatusAccepted {
		t.Errorf("the channel answered %d %q once its secret exists, want 202", code, body)
	}
	cl, err := kgo.NewClient(append(mustOpts(t, servers, secrets.Secret), kgo.ConsumeTopics(brokerTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ids []string
	for len(ids) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { ids = append(ids, decode(t, r).ID()) })
	}
	if strings.Join(ids, ",") != "b-1,b-2" {
		t.Errorf("the broker topic holds %v, want the two accepted events b-1, b-2", ids)
	}
}

// mustOpts are the options of a client of servers with the credentials of ns1/auth-b1.
func mustOpts(t *testing.T, servers []string, get func(string, string) (map[string][]byte, bool)) []kgo.Opt {
	t.Helper()
	data, _ := get("ns1", "auth-b1")
	sec, err := kafkaconn.ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := kafkaconn.Opts(servers, sec)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// Without WithSecurity, a resource that references a Secret is not served: the ingress never
// connects in plaintext instead.
func TestWithoutSecurityReferencedSecretsAreNotServed(t *testing.T) {
	c := securedContract(fakeKafka(t))
	c.Resources[1].Auth = nil
	i := New(zaptest.NewLogger(t), TopicCheckInterval(100*time.Millisecond))
	t.Cleanup(func() { _ = i.Close(context.Background()) })
	if err := i.Apply(context.Background(), c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st := waitStatus(t, i, "uid-b1", reason(kafkaconn.ReasonSecretNotFound))
	if !strings.Contains(st.Message, "ns1/auth-b1") || !strings.Contains(st.Message, "reads no Secrets") {
		t.Errorf("status message %q, want it to name the secret and say no secrets are read", st.Message)
	}
	waitStatus(t, i, "uid-c1", ready)
}

// Rotating a Secret while requests are in flight fails none of them: a request that took the
// old producer finishes on it before it is closed, one that comes after takes the new one.
func TestRotationUnderLoadFailsNoRequest(t *testing.T) {
	servers := kafkatest.FakeSASL(t, map[string]string{"alice": alicePass, "bob": bobPass},
		kfake.SeedTopics(1, brokerTopic, channelTopic))
	ref := kafkaauth.Ref{Namespace: "ns1", Name: "auth-b1"}
	secrets := kafkaauth.NewStatic(map[kafkaauth.Ref]map[string][]byte{ref: saslSecret("alice", alicePass)})
	security := func(r *contract.Resource) (*kafkaconn.Security, error) { return kafkaauth.Resolve(secrets, r) }
	i := New(zaptest.NewLogger(t), Linger(0), ProduceTimeout(5*time.Second), TopicCheckInterval(time.Hour), WithSecurity(security))
	t.Cleanup(func() { _ = i.Close(context.Background()) })
	c := securedContract(servers)
	c.Resources = c.Resources[:1]
	if err := i.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}

	const senders, perSender = 4, 60
	failures := make(chan string, senders*perSender)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perSender {
				rec := serve(i, binaryRequest(t, "/ns1/b1", testEvent(t, event.CloudEventsVersionV1, fmt.Sprintf("%d-%d", s, n))))
				if rec.Code != http.StatusAccepted {
					failures <- fmt.Sprintf("%d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
				}
			}
		}()
	}
	go func() {
		defer close(stop)
		users := []struct{ user, pass string }{{"bob", bobPass}, {"alice", alicePass}}
		for n := range 10 {
			u := users[n%2]
			secrets.Set(ref, saslSecret(u.user, u.pass))
			if err := i.Apply(context.Background(), c); err != nil {
				failures <- "Apply: " + err.Error()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	<-stop
	close(failures)
	for f := range failures {
		t.Errorf("a request during rotations: %s", f)
	}
}

// A request whose body is still arriving when the Secret rotates is produced with the new
// credentials: the ingress looks its producer up once the body is in, and never uses one that
// a rotation closed.
func TestSlowRequestAcrossARotationIsAccepted(t *testing.T) {
	servers := kafkatest.FakeSASL(t, map[string]string{"alice": alicePass, "bob": bobPass},
		kfake.SeedTopics(1, brokerTopic, channelTopic))
	ref := kafkaauth.Ref{Namespace: "ns1", Name: "auth-b1"}
	secrets := kafkaauth.NewStatic(map[kafkaauth.Ref]map[string][]byte{ref: saslSecret("alice", alicePass)})
	security := func(r *contract.Resource) (*kafkaconn.Security, error) { return kafkaauth.Resolve(secrets, r) }
	i := New(zaptest.NewLogger(t), Linger(0), ProduceTimeout(5*time.Second), TopicCheckInterval(time.Hour), WithSecurity(security))
	t.Cleanup(func() { _ = i.Close(context.Background()) })
	c := securedContract(servers)
	c.Resources = c.Resources[:1]
	if err := i.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	e := testEvent(t, event.CloudEventsVersionV1, "slow")
	body, write := io.Pipe()
	req := binaryRequest(t, "/ns1/b1", e)
	req.Body = body
	req.ContentLength = -1
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(i, req) }()
	if _, err := write.Write(e.Data()[:1]); err != nil { // the handler is reading the body now
		t.Fatal(err)
	}
	secrets.Set(ref, saslSecret("bob", bobPass))
	if err := i.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := write.Write(e.Data()[1:]); err != nil {
		t.Fatal(err)
	}
	_ = write.Close()
	if rec := <-done; rec.Code != http.StatusAccepted {
		t.Errorf("the request that spanned the rotation got %d %q, want 202", rec.Code, rec.Body)
	}
}
