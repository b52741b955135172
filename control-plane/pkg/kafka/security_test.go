package kafka_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

func credentials(t *testing.T, secrets ...*corev1.Secret) kafka.Credentials {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range secrets {
		if err := indexer.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return kafka.NewCredentials(corelisters.NewSecretLister(indexer))
}

func secret(namespace, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// wantReason checks that err is a *kafkaconn.Error with reason whose message contains every
// one of names.
func wantReason(t *testing.T, err error, reason kafkaconn.Reason, names ...string) {
	t.Helper()
	var ke *kafkaconn.Error
	if !errors.As(err, &ke) || ke.Reason != reason {
		t.Fatalf("error = %v, want a *kafkaconn.Error with reason %s", err, reason)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
}

func TestCredentialsSecret(t *testing.T) {
	c := credentials(t,
		secret("kafka", "scram", map[string]string{"protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "p"}),
		secret("kafka", "no-password", map[string]string{"protocol": "SASL_PLAINTEXT", "user": "u"}),
		&corev1.Secret{ // stringData wins over data, as the API server merges them
			ObjectMeta: metav1.ObjectMeta{Namespace: "kafka", Name: "string-data"},
			Data:       map[string][]byte{"protocol": []byte("SSL")},
			StringData: map[string]string{"protocol": "SASL_PLAINTEXT", "user": "u", "password": "p"},
		},
	)
	sec, err := c.Secret("kafka", "scram")
	if err != nil || sec.String() != "SASL_SSL/SCRAM-SHA-512" {
		t.Errorf("Secret(scram) = %v, %v; want SASL_SSL/SCRAM-SHA-512", sec, err)
	}
	sec, err = c.Secret("kafka", "string-data")
	if err != nil || sec.String() != "SASL_PLAINTEXT/PLAIN" {
		t.Errorf("Secret(string-data) = %v, %v; want SASL_PLAINTEXT/PLAIN", sec, err)
	}
	if sec, err := c.Secret("kafka", ""); sec != nil || err != nil {
		t.Errorf("Secret without a name = %v, %v; want PLAINTEXT (nil), nil", sec, err)
	}
	_, err = c.Secret("kafka", "absent")
	wantReason(t, err, kafkaconn.ReasonSecretNotFound, `"kafka/absent"`)
	_, err = c.Secret("other", "scram") // the namespace is part of the name
	wantReason(t, err, kafkaconn.ReasonSecretNotFound, `"other/scram"`)
	_, err = c.Secret("kafka", "no-password")
	wantReason(t, err, kafkaconn.ReasonSecretKeyMissing, `"kafka/no-password"`, `"password"`)
}

func TestCredentialsNet(t *testing.T) {
	c := credentials(t,
		secret("ns", "user", map[string]string{"user": "u", "password": "p"}),
		secret("elsewhere", "ca", map[string]string{"ca.crt": "x"}),
	)
	ref := func(secret, key string) kafkaconn.KeyRef { return kafkaconn.KeyRef{Secret: secret, Key: key} }
	plain := &kafkaconn.Net{SASL: kafkaconn.NetSASL{Enable: true, User: ref("user", "user"), Password: ref("user", "password")}}
	sec, err := c.Net("ns", plain)
	if err != nil || sec.String() != "SASL_PLAINTEXT/PLAIN" {
		t.Errorf("Net(SASL) = %v, %v; want SASL_PLAINTEXT/PLAIN", sec, err)
	}
	if sec, err := c.Net("ns", nil); sec != nil || err != nil {
		t.Errorf("Net(nil) = %v, %v; want PLAINTEXT (nil), nil", sec, err)
	}
	// Secrets are read in the source's namespace only.
	withCA := *plain
	withCA.TLS = kafkaconn.NetTLS{CACert: ref("ca", "ca.crt")}
	_, err = c.Net("ns", &withCA)
	wantReason(t, err, kafkaconn.ReasonSecretNotFound, "net.tls.caCert", `"ca"`)
	missingKey := *plain
	missingKey.SASL.Password = ref("user", "pass")
	_, err = c.Net("ns", &missingKey)
	wantReason(t, err, kafkaconn.ReasonSecretKeyMissing, "net.sasl.password", `"pass"`, `"user"`)
}
