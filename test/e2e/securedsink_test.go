package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

// testSecuredKafkaSink runs a KafkaSink against a Kafka whose listener requires credentials, named
// by spec.auth.secret.ref.name: with a wrong password the sink is not Ready, the reason naming
// the refusal and the message the Secret; with the Secret fixed it becomes Ready without a
// restart, creates its topic on the secured cluster and writes the events posted to it; a Secret
// spoiled again makes the ingress answer 503 for the sink; deleting the sink deletes its topic
// through the same credentials; no password shows anywhere users or operators look.
func testSecuredKafkaSink(t *testing.T, s *suite) {
	sk := kafkatest.StartSecured(t)
	const ns, name, secret = "secured-sink", "orders", "sink-auth"
	namespace(t, s, ns)
	ctx := ctxFor(t, 5*time.Minute)
	user := "e2e-sink"
	pw, wrong := mustPassword(t), mustPassword(t)
	if err := sk.SetScramPassword(ctx, user, pw); err != nil {
		t.Fatal(err)
	}
	saslSSL := func(password string) map[string][]byte {
		return map[string][]byte{
			"protocol": []byte("SASL_SSL"), "sasl.mechanism": []byte("SCRAM-SHA-512"),
			"user": []byte(user), "password": []byte(password), "ca.crt": sk.CA.CertPEM,
		}
	}
	// Cleanups run last-in first-out: the Secret goes after the sink whose finalizer needs it.
	s.applySecret(t, ns, secret, saslSSL(wrong))
	t.Cleanup(func() { s.deleteSecret(t, ns, secret) })
	t.Cleanup(func() { s.deleteKafkaSink(t, ns, name) })
	topic := "secured-sink-orders"

	// 1. A wrong password: the sink says so, naming the Secret.
	createKafkaSink(t, s, newKafkaSink(ns, name, topic, sk.Bootstrap(kafkatest.ListenerSASLSSL), func(ks *eventingv1alpha1.KafkaSink) {
		partitions, replication := int32(2), int16(1)
		ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = &partitions, &replication
		ks.Spec.Auth = &eventingv1alpha1.Auth{Secret: &eventingv1alpha1.Secret{Ref: &eventingv1alpha1.SecretReference{Name: secret}}}
	}))
	waitNotReady(t, 90*time.Second, "KafkaSink "+ns+"/"+name, kafkaSinkConditions(s, ns, name), "SASLAuthenticationFailed", secret)

	// 2. The right password: Ready without a restart, its topic on the secured cluster, events in it.
	s.applySecret(t, ns, secret, saslSSL(pw))
	waitReady(t, 90*time.Second, "KafkaSink "+ns+"/"+name+" after its Secret was fixed", kafkaSinkConditions(s, ns, name))
	plain, err := kgo.NewClient(kgo.SeedBrokers(sk.Servers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if n, ok, err := topicPartitions(ctx, plain, topic); !ok || n != 2 {
		t.Fatalf("topic %s on the secured cluster: exists=%t partitions=%d err=%v", topic, ok, n, err)
	}
	path := "/" + ns + "/" + name
	s.sendUntilAccepted(t, path, events("secured-sink", 3)...)
	var got []string
	for len(got) < 3 && ctx.Err() == nil {
		plain.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			e, err := cekafka.Decode(r)
			if err != nil {
				t.Errorf("record at %d/%d is not a CloudEvent: %v", r.Partition, r.Offset, err)
				return
			}
			got = append(got, e.ID())
		})
	}
	slices.Sort(got)
	if want := ids("secured-sink", 3); !slices.Equal(got, want) {
		t.Errorf("the secured topic holds %v, want %v", got, want)
	}

	// 3. A Secret spoiled again: the ingress follows it and stops accepting for this sink.
	s.applySecret(t, ns, secret, saslSSL(wrong))
	eventually(t, 90*time.Second, "the ingress answering 503 for "+path+" once its Secret holds a wrong password", func() (bool, string) {
		code, err := s.send(ctx, sinkIngressHost, path, event("spoiled", "e2e.secured", "/e2e/secured", nil))
		return code == http.StatusServiceUnavailable, fmt.Sprintf("status %d, %v", code, err)
	})
	waitNotReady(t, 90*time.Second, "KafkaSink "+ns+"/"+name+" with a spoiled Secret", kafkaSinkConditions(s, ns, name), "SASLAuthenticationFailed", secret)

	// 4. Fixed again, then deleted: the topic goes with the sink, through the sink's credentials.
	s.applySecret(t, ns, secret, saslSSL(pw))
	waitReady(t, 90*time.Second, "KafkaSink "+ns+"/"+name+" after its Secret was fixed again", kafkaSinkConditions(s, ns, name))
	s.deleteKafkaSink(t, ns, name)
	eventually(t, 60*time.Second, "topic "+topic+" deleted with its sink", func() (bool, string) {
		_, ok, err := topicPartitions(context.Background(), plain, topic)
		return !ok && err == nil, fmt.Sprintf("exists=%t err=%v", ok, err)
	})

	// 5. No credential anywhere users or operators look.
	s.checkNoSecretsShown(t, ns, [][]byte{[]byte(pw), []byte(wrong)})
}
