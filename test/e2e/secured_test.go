package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/test/kafkatest"
)

// testSecuredKafka runs a Broker and a KafkaSource against a Kafka whose listeners require
// credentials, with the Secrets users already have for Knative's Kafka broker:
//   - a Broker on the SASL_SSL listener (SCRAM-SHA-512, a user of this test's own), first with a
//     wrong password: not Ready, the reason naming the refusal and the message the Secret; then the
//     Secret fixed: Ready without a restart, and events delivered through a Trigger;
//   - the password rotated with Kafka's own tool, then in the Secret: events keep flowing; a Secret
//     spoiled again: the ingress stops accepting for that Broker (503) — the data plane follows the
//     Secret, not only the control plane;
//   - a KafkaSource reading over mutual TLS (spec.net.tls: caCert, cert, key) into a subscriber;
//   - no password or private key in any log, status, event or contract ConfigMap.
func testSecuredKafka(t *testing.T, s *suite) {
	sk := kafkatest.StartSecured(t)
	const ns, broker, trigger, secret, source, mtlsSecret = "secured", "secured", "secured-trigger", "kafka-auth", "secured-source", "kafka-mtls"
	namespace(t, s, ns)
	ctx := ctxFor(t, 5*time.Minute)

	// A SCRAM user of this test's own, created with Kafka's kafka-configs tool.
	user := "e2e-broker"
	pw1, pw2, wrong := mustPassword(t), mustPassword(t), mustPassword(t)
	if err := sk.SetScramPassword(ctx, user, pw1); err != nil {
		t.Fatal(err)
	}
	saslSSL := func(password string) map[string][]byte {
		return map[string][]byte{
			"protocol":       []byte("SASL_SSL"),
			"sasl.mechanism": []byte("SCRAM-SHA-512"),
			"user":           []byte(user),
			"password":       []byte(password),
			"ca.crt":         sk.CA.CertPEM,
		}
	}
	// Cleanups run last-in first-out: the Secrets go after the objects whose finalizers need them.
	s.applySecret(t, ns, secret, saslSSL(wrong))
	t.Cleanup(func() { s.deleteSecret(t, ns, secret) })
	t.Cleanup(func() { s.deleteBrokerConfig(t, ns) })
	if err := applyConfigMap(ctx, s.cluster, ns, "kafka-broker-config", map[string]string{
		"bootstrap.servers":                strings.Join(sk.Bootstrap(kafkatest.ListenerSASLSSL), ","),
		"default.topic.partitions":         "3",
		"default.topic.replication.factor": "1",
		"auth.secret.ref.name":             secret,
	}); err != nil {
		t.Fatal(err)
	}

	// 1. A wrong password: the Broker says so, naming the Secret.
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, broker, []string{trigger}) })
	createBroker(t, s, newBroker(ns, broker, func(b *eventingv1.Broker) { b.Spec.Config.Namespace = ns }))
	waitNotReady(t, 90*time.Second, "Broker "+ns+"/"+broker, brokerConditions(s, ns, broker), "SASLAuthenticationFailed", secret)

	// 2. The right password: Ready without a restart, its topic on the secured cluster.
	s.applySecret(t, ns, secret, saslSSL(pw1))
	waitReady(t, 90*time.Second, "Broker "+ns+"/"+broker+" after its Secret was fixed", brokerConditions(s, ns, broker))
	plain, err := kgo.NewClient(kgo.SeedBrokers(sk.Servers...))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	admin := kadm.NewClient(plain)
	topic := brokerTopic(ns, broker)
	if n, ok, err := topicPartitions(ctx, plain, topic); !ok || n != 3 {
		t.Fatalf("topic %s on the secured cluster: exists=%t partitions=%d err=%v", topic, ok, n, err)
	}
	subscriber := newSink(t, "secured-subscriber")
	createTrigger(t, s, newTrigger(ns, trigger, broker, subscriber.url))
	waitReady(t, 90*time.Second, "Trigger "+ns+"/"+trigger, triggerConditions(s, ns, trigger))
	path := "/" + ns + "/" + broker
	s.sendUntilAccepted(t, path, events("before", 5)...)
	subscriber.waitFor(t, 60*time.Second, ids("before", 5))

	// 3. The password rotated with Kafka's tool, then in the Secret: delivery goes on.
	if err := sk.SetScramPassword(ctx, user, pw2); err != nil {
		t.Fatal(err)
	}
	s.applySecret(t, ns, secret, saslSSL(pw2))
	s.sendUntilAccepted(t, path, events("after", 5)...)
	subscriber.waitFor(t, 60*time.Second, append(ids("before", 5), ids("after", 5)...))
	waitCaughtUp(t, admin, topic, triggerGroup(ns, trigger))

	// 4. A Secret spoiled again: the data plane follows it and stops accepting for this Broker.
	s.applySecret(t, ns, secret, saslSSL(wrong))
	eventually(t, 90*time.Second, "the ingress answering 503 for "+path+" once its Secret holds a wrong password", func() (bool, string) {
		code, err := s.send(ctx, "", path, event("spoiled", "e2e.secured", "/e2e/secured", nil))
		return code == http.StatusServiceUnavailable, fmt.Sprintf("status %d, %v", code, err)
	})
	waitNotReady(t, 90*time.Second, "Broker "+ns+"/"+broker+" with a spoiled Secret", brokerConditions(s, ns, broker), "SASLAuthenticationFailed", secret)
	s.applySecret(t, ns, secret, saslSSL(pw2))
	waitReady(t, 90*time.Second, "Broker "+ns+"/"+broker+" after its Secret was fixed again", brokerConditions(s, ns, broker))

	// 5. A KafkaSource reading over mutual TLS into a subscriber.
	userTopic := "secured-notifications"
	if resp, err := admin.CreateTopic(ctx, 2, 1, nil, userTopic); err != nil || resp.Err != nil {
		t.Fatalf("creating topic %s on the secured cluster: %v %v", userTopic, err, resp.Err)
	}
	s.applySecret(t, ns, mtlsSecret, map[string][]byte{
		"ca.crt":   sk.CA.CertPEM,
		"user.crt": sk.Client.CertPEM,
		"user.key": sk.Client.KeyPEM,
	})
	t.Cleanup(func() { s.deleteSecret(t, ns, mtlsSecret) })
	ref := func(key string) sourcesv1beta1.SecretValueFromSource {
		return sourcesv1beta1.SecretValueFromSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: mtlsSecret}, Key: key,
		}}
	}
	sourceSink := newSink(t, "secured-source-subscriber")
	ks := createKafkaSource(t, s, newKafkaSource(ns, source, []string{userTopic}, sk.Bootstrap(kafkatest.ListenerMTLS), duckv1.KReference{},
		func(ks *sourcesv1beta1.KafkaSource) {
			ks.Spec.Sink = duckv1.Destination{URI: sourceSink.url}
			ks.Spec.Net.TLS.Enable = true
			ks.Spec.Net.TLS.CACert, ks.Spec.Net.TLS.Cert, ks.Spec.Net.TLS.Key = ref("ca.crt"), ref("user.crt"), ref("user.key")
		}))
	t.Cleanup(func() { s.deleteKafkaSource(t, ns, source, "") })
	waitReady(t, 90*time.Second, "KafkaSource "+ns+"/"+source, kafkaSourceConditions(s, ns, source))
	var records []*kgo.Record
	for i := range 4 {
		records = append(records, &kgo.Record{Topic: userTopic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := plain.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", userTopic, err)
	}
	var want []string
	for _, r := range records {
		want = append(want, fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset))
	}
	sourceSink.waitFor(t, 60*time.Second, want)
	waitCaughtUp(t, admin, userTopic, ks.Spec.ConsumerGroup)

	// 6. No credential anywhere users or operators look.
	s.checkNoSecretsShown(t, ns, [][]byte{[]byte(pw1), []byte(pw2), []byte(wrong), sk.Client.KeyPEM, keyBody(sk.Client.KeyPEM)})
}

func mustPassword(t *testing.T) string {
	t.Helper()
	p, err := kafkatest.RandomPassword()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// events are n CloudEvents prefix-0 … of one type.
func events(prefix string, n int) []cloudevents.Event {
	var out []cloudevents.Event
	for _, id := range ids(prefix, n) {
		out = append(out, event(id, "e2e.secured", "/e2e/secured", nil))
	}
	return out
}

// sendUntilAccepted sends each event until the ingress answers 202, for up to a minute each: a
// changed Secret gives the data plane a new Kafka client, and the ingress answers 503 until it
// has one.
func (s *suite) sendUntilAccepted(t *testing.T, path string, evs ...cloudevents.Event) {
	t.Helper()
	for _, e := range evs {
		eventually(t, 60*time.Second, "the ingress accepting "+e.ID(), func() (bool, string) {
			code, err := s.send(ctxFor(t, 30*time.Second), "", path, e)
			return code == http.StatusAccepted, fmt.Sprintf("status %d, %v", code, err)
		})
	}
}

// waitNotReady waits until Ready is False with reason and a message that mentions mention.
func waitNotReady(t *testing.T, within time.Duration, what string, get conditionsOf, reason, mention string) {
	t.Helper()
	eventually(t, within, what+" not Ready with reason "+reason+" naming "+mention, func() (bool, string) {
		conds, err := get(context.Background())
		c := findCondition(conds, apis.ConditionReady)
		ok := err == nil && c != nil && c.IsFalse() && c.Reason == reason && strings.Contains(c.Message, mention)
		return ok, fmt.Sprintf("%v %s", err, describeConditions(conds))
	})
}

// applySecret creates or replaces the Secret ns/name with data.
func (s *suite) applySecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	secrets := s.cluster.Kube.CoreV1().Secrets(ns)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	_, err := secrets.Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var cur *corev1.Secret
		if cur, err = secrets.Get(ctx, name, metav1.GetOptions{}); err == nil {
			cur.Data = data
			_, err = secrets.Update(ctx, cur, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		t.Fatalf("writing Secret %s/%s: %v", ns, name, err)
	}
}

func (s *suite) deleteSecret(t *testing.T, ns, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.cluster.Kube.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Secret %s/%s: %v", ns, name, err)
	}
}

// keyBody is the base64 body of a PEM block, without its armour: a log that re-wrapped the key
// would still show it.
func keyBody(pemBytes []byte) []byte {
	var body []string
	for _, line := range strings.Split(string(pemBytes), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			body = append(body, line)
		}
	}
	if len(body) == 0 {
		return pemBytes
	}
	return []byte(body[0])
}

// checkNoSecretsShown fails t when any of values appears in the controller's or the data plane's
// log, the contract ConfigMaps, the Brokers, KafkaSources and KafkaSinks of ns, or the Events of ns.
func (s *suite) checkNoSecretsShown(t *testing.T, ns string, values [][]byte) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	places := map[string][]byte{}
	for _, p := range []*process{s.controller, s.dataPlane} {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Fatal(err)
		}
		places["the log of "+p.name] = b
	}
	cms, err := s.cluster.Kube.CoreV1().ConfigMaps(systemNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		b, _ := json.Marshal(cm)
		places["ConfigMap "+systemNamespace+"/"+cm.Name] = b
	}
	evs, err := s.cluster.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(evs)
	places["the Events of "+ns] = b
	brokers, err := s.cluster.Eventing.EventingV1().Brokers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(brokers)
	places["the Brokers of "+ns] = b
	sources, err := s.kafkaClient.SourcesV1beta1().KafkaSources(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(sources)
	places["the KafkaSources of "+ns] = b
	sinks, err := s.kafkaClient.EventingV1alpha1().KafkaSinks(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(sinks)
	places["the KafkaSinks of "+ns] = b
	for where, content := range places {
		for i, v := range values {
			if len(v) >= 8 && strings.Contains(string(content), string(v)) {
				t.Errorf("%s shows credential #%d", where, i)
			}
		}
	}
	if len(places) < 6 {
		t.Errorf("looked in only %d places", len(places))
	}
}
