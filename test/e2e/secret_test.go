package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
)

// testAuthSecretAfterBroker: a Broker whose config names an auth Secret that does not exist yet
// is not Ready, with SecretNotFound naming it; creating the Secret makes it Ready without any
// restart; breaking the Secret (no password) makes it not Ready with SecretKeyMissing naming the
// key; mending it makes it Ready again. Each step is only a Secret change: the controller's
// Secret watch requeues the Broker. The test Kafka's listener is plaintext, so the working Secret
// says PLAINTEXT.
func testAuthSecretAfterBroker(t *testing.T, s *suite) {
	ns := namespace(t, s, "e2e-auth-secret")
	const name, secretName = "secured", "kafka-auth"
	s.forgetKafka(t, brokerTopic(ns, name))
	t.Cleanup(func() { s.deleteBrokerAndTriggers(t, ns, name, nil) })
	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, ns, "kafka-broker-config", map[string]string{
		"bootstrap.servers":                strings.Join(s.servers, ","),
		"default.topic.partitions":         "1",
		"default.topic.replication.factor": "1",
		"auth.secret.ref.name":             secretName,
	}); err != nil {
		t.Fatal(err)
	}
	createBroker(t, s, newBroker(ns, name, func(b *eventingv1.Broker) { b.Spec.Config.Namespace = ns }))
	notReadyWith(t, s, ns, name, "SecretNotFound", ns+"/"+secretName)

	secrets := s.cluster.Kube.CoreV1().Secrets(ns)
	created, err := secrets.Create(ctxFor(t, 30*time.Second), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName},
		StringData: map[string]string{"protocol": "PLAINTEXT"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The Secret watch requeues the Broker at once: its credentials are read within seconds,
	// long before any periodic resync.
	parsed := eventually(t, 10*time.Second, "Broker "+ns+"/"+name+" reading its new Secret", func() (bool, string) {
		conds, err := brokerConditions(s, ns, name)(context.Background())
		if err != nil {
			return false, err.Error()
		}
		c := findCondition(conds, "ConfigParsed")
		return c != nil && c.IsTrue(), describeConditions(conds)
	})
	took := waitReady(t, 60*time.Second, "Broker "+ns+"/"+name, brokerConditions(s, ns, name))
	t.Logf("Broker %s/%s read its auth Secret %s after it was created, and was Ready %s later",
		ns, name, parsed.Round(time.Millisecond), took.Round(time.Millisecond))

	broken := created.DeepCopy()
	broken.StringData = nil
	broken.Data = map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "user": []byte("e2e-user")}
	if created, err = secrets.Update(ctxFor(t, 30*time.Second), broken, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	notReadyWith(t, s, ns, name, "SecretKeyMissing", `"password"`)

	mended := created.DeepCopy()
	mended.Data = map[string][]byte{"protocol": []byte("PLAINTEXT")}
	if _, err := secrets.Update(ctxFor(t, 30*time.Second), mended, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+name+" with its mended Secret", brokerConditions(s, ns, name))
}

// notReadyWith waits until the Broker's Ready condition is False with reason and a message
// containing named.
func notReadyWith(t *testing.T, s *suite, ns, name, reason, named string) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("Broker %s/%s not Ready with %s naming %s", ns, name, reason, named), func() (bool, string) {
		conds, err := brokerConditions(s, ns, name)(context.Background())
		if err != nil {
			return false, err.Error()
		}
		c := findCondition(conds, apis.ConditionReady)
		return c != nil && c.IsFalse() && c.Reason == reason && strings.Contains(c.Message, named), describeConditions(conds)
	})
}
