package local

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"knkafka.dev/kafkaconn"
	"knkafka.dev/local/runner"
	"knkafka.dev/test/kafkatest"
)

// Distinctive passwords, so that the log check finds them if they leak.
const (
	localPass = "local-pw-Rb7Hs4"
	stalePass = "stale-pw-Ke2Dw6"
	wrongPass = "wrong-pw-Xa3Pu8"
)

// securedBrokerFiles is a Broker on a SASL cluster: its ConfigMap names the Secret kafka-auth,
// which the Secret file of the folder (authSecret) holds.
func securedBrokerFiles(servers []string, uri string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: kafka-broker-config, namespace: knative-eventing}
data:
  bootstrap.servers: %s
  default.topic.partitions: "1"
  default.topic.replication.factor: "1"
  auth.secret.ref.name: kafka-auth
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: secured}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config, namespace: knative-eventing}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all, namespace: secured}
spec:
  broker: default
  subscriber: {uri: %q}
`, strings.Join(servers, ","), uri)
}

// authSecret has the protocol and a stale password in data (base64) and the password that
// counts in stringData, which wins as it does in Kubernetes. It names no namespace: a local
// Secret then lives in knative-eventing, beside the ConfigMap that names it.
func authSecret(password string) string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: kafka-auth}
data:
  protocol: %s
  user: %s
  password: %s
stringData:
  password: %q
`, b64("SASL_PLAINTEXT"), b64("alice"), b64(stalePass), password)
}

// A Secret file in the folder gives the Broker's credentials, for its topic, its ingress and
// its Trigger alike; a wrong password makes the Broker not Ready with the reason and the
// Secret's name; fixing the file brings it back without a restart, and no password reaches
// knkafka's output.
func TestSecretFileSecuresABroker(t *testing.T) {
	servers := kafkatest.FakeSASL(t, map[string]string{"alice": localPass})
	sub := newSubscriber(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "broker.yaml"), securedBrokerFiles(servers, sub.url))
	secretFile := filepath.Join(dir, "secret.yaml")

	// Without its Secret, the Broker is not Ready and says which Secret it needs.
	p := start(t, dir)
	p.waitFor(t, "the broker waiting for its secret", brokerReason(kafkaconn.ReasonSecretNotFound, "knative-eventing/kafka-auth"))

	writeFile(t, secretFile, authSecret(localPass))
	everything := []string{"Broker/default", "Trigger/all"}
	p.waitFor(t, "the secured broker and its trigger Ready", allReady(everything...))
	brokerURL := "http://" + p.ingress + "/secured/default"
	send(t, brokerURL, "secured-1", "any")
	sub.wait(t, "secured-1")

	writeFile(t, secretFile, authSecret(wrongPass))
	p.waitFor(t, "the broker refused by Kafka", brokerReason(kafkaconn.ReasonSASLAuthenticationFailed, "knative-eventing/kafka-auth"))

	writeFile(t, secretFile, authSecret(localPass))
	p.waitFor(t, "the broker and its trigger Ready again", allReady(everything...))
	send(t, brokerURL, "secured-2", "any")
	sub.wait(t, "secured-2")

	out := p.stdout.String() + p.stderr.String()
	for _, pw := range []string{localPass, stalePass, wrongPass} {
		if strings.Contains(out, pw) {
			t.Errorf("knkafka's output holds a password from the secret file")
		}
	}
}

// brokerReason holds when the Broker is not Ready (False) for reason, with a message naming secret.
func brokerReason(reason kafkaconn.Reason, secret string) func([]runner.Resource) bool {
	return func(rs []runner.Resource) bool {
		for _, r := range rs {
			if c := r.Ready(); r.Kind == "Broker" && c.Status == runner.StatusFalse && c.Reason == string(reason) {
				return strings.Contains(c.Message, secret)
			}
		}
		return false
	}
}
