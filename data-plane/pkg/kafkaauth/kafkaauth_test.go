package kafkaauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

const password = "pw-Jx7Qm2" // distinctive, so a leak into a message is found

func sasl(user string) map[string][]byte {
	return map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "sasl.mechanism": []byte("SCRAM-SHA-512"),
		"user": []byte(user), "password": []byte(password)}
}

func TestRefsListEveryReferencedSecretOnce(t *testing.T) {
	c := &contract.Contract{Resources: []contract.Resource{
		{UID: "b1", Auth: &contract.SecretRef{Namespace: "knative-eventing", Name: "auth"}},
		{UID: "b2", Auth: &contract.SecretRef{Namespace: "knative-eventing", Name: "auth"}},
		{UID: "s1", Namespace: "team", Net: &kafkaconn.Net{SASL: kafkaconn.NetSASL{
			Enable:   true,
			User:     kafkaconn.KeyRef{Secret: "creds", Key: "user"},
			Password: kafkaconn.KeyRef{Secret: "creds", Key: "password"},
			Type:     kafkaconn.KeyRef{Secret: "mech", Key: "type"},
		}}},
		{UID: "plain"},
	}}
	want := []Ref{{"knative-eventing", "auth"}, {"team", "creds"}, {"team", "mech"}}
	if diff := cmp.Diff(want, Refs(c)); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
	if Refs(nil) != nil {
		t.Error("Refs(nil) is not empty")
	}
}

func TestResolve(t *testing.T) {
	secrets := NewStatic(map[Ref]map[string][]byte{
		{"ns", "good"}:    sasl("alice"),
		{"ns", "no-user"}: {"protocol": []byte("SASL_PLAINTEXT"), "password": []byte(password)},
		{"team", "creds"}: {"user": []byte("bob"), "password": []byte(password)},
	})
	auth := func(name string) *contract.Resource {
		return &contract.Resource{Auth: &contract.SecretRef{Namespace: "ns", Name: name}}
	}
	net := func(secret string) *contract.Resource {
		return &contract.Resource{Namespace: "team", Net: &kafkaconn.Net{SASL: kafkaconn.NetSASL{
			Enable:   true,
			User:     kafkaconn.KeyRef{Secret: secret, Key: "user"},
			Password: kafkaconn.KeyRef{Secret: secret, Key: "password"},
		}}}
	}
	tests := []struct {
		name     string
		res      *contract.Resource
		protocol kafkaconn.Protocol
		reason   kafkaconn.Reason
		// inMessage must appear in the error.
		inMessage string
	}{
		{"no reference is plaintext", &contract.Resource{}, kafkaconn.Plaintext, "", ""},
		{"an auth secret", auth("good"), kafkaconn.SASLPlaintext, "", ""},
		{"a missing auth secret", auth("absent"), "", kafkaconn.ReasonSecretNotFound, `secret "ns/absent"`},
		{"a bad auth secret names itself and the key", auth("no-user"), "", kafkaconn.ReasonSecretKeyMissing, `key "user" of secret "ns/no-user"`},
		{"spec.net", net("creds"), kafkaconn.SASLPlaintext, "", ""},
		{"spec.net with a missing secret", net("gone"), "", kafkaconn.ReasonSecretNotFound, `secret "gone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, err := Resolve(secrets, tt.res)
			if tt.reason == "" {
				if err != nil || sec.Protocol() != tt.protocol {
					t.Fatalf("Resolve = %v, %v; want %s", sec, err, tt.protocol)
				}
				return
			}
			var e *kafkaconn.Error
			if !errors.As(err, &e) || e.Reason != tt.reason {
				t.Fatalf("Resolve error %v (%T), want a *kafkaconn.Error with reason %s", err, err, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.inMessage) || strings.Contains(err.Error(), password) {
				t.Errorf("error %q: want it to contain %q and no secret value", err, tt.inMessage)
			}
		})
	}
	if _, err := Resolve(nil, auth("good")); err == nil {
		t.Error("Resolve without secrets found a secret")
	}
}

func TestRefusedNamesTheSecretAndKeysNeverValues(t *testing.T) {
	refusal := errors.Join(errors.New("authenticating"), kerr.SaslAuthenticationFailed)
	auth := &contract.Resource{Auth: &contract.SecretRef{Namespace: "ns", Name: "kafka-auth"}}
	r, msg, ok := Refused(auth, refusal)
	if !ok || r != kafkaconn.ReasonSASLAuthenticationFailed {
		t.Fatalf("Refused = %q, %v; want %s", r, ok, kafkaconn.ReasonSASLAuthenticationFailed)
	}
	for _, want := range []string{`"ns/kafka-auth"`, `"user"`, `"password"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %s", msg, want)
		}
	}
	net := &contract.Resource{Namespace: "team", Net: &kafkaconn.Net{SASL: kafkaconn.NetSASL{
		Enable: true, Password: kafkaconn.KeyRef{Secret: "creds", Key: "pw"},
	}}}
	if _, msg, _ := Refused(net, refusal); !strings.Contains(msg, `net.sasl.password (key "pw" of secret "team/creds")`) {
		t.Errorf("message %q does not name the spec.net field, key and secret", msg)
	}
	if _, _, ok := Refused(auth, context.DeadlineExceeded); ok {
		t.Error("a timeout was taken for a refusal")
	}
}

func TestStaticSignalsOnlyRealChanges(t *testing.T) {
	s := NewStatic(map[Ref]map[string][]byte{{"ns", "a"}: sasl("alice")})
	changed := func() bool {
		select {
		case <-s.Changes():
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	}
	s.Set(Ref{"ns", "a"}, sasl("alice"))
	if changed() {
		t.Error("setting the same data signalled a change")
	}
	s.Set(Ref{"ns", "a"}, sasl("bob"))
	if !changed() {
		t.Error("new data did not signal a change")
	}
	s.Replace(map[Ref]map[string][]byte{{"ns", "a"}: sasl("bob")})
	if changed() {
		t.Error("replacing with the same secrets signalled a change")
	}
	s.Delete(Ref{"ns", "a"})
	if !changed() {
		t.Error("deleting did not signal a change")
	}
	if _, ok := s.Secret("ns", "a"); ok {
		t.Error("a deleted secret is still found")
	}
}

// countingSecrets counts the reads of each Secret.
type countingSecrets struct {
	Secrets
	reads map[string]int
}

func (c *countingSecrets) Secret(namespace, name string) (map[string][]byte, bool) {
	c.reads[namespace+"/"+name]++
	return c.Secrets.Secret(namespace, name)
}

func TestCachedReadsEachAuthSecretOnce(t *testing.T) {
	secrets := &countingSecrets{Secrets: NewStatic(map[Ref]map[string][]byte{{"ns", "shared"}: sasl("alice")}), reads: map[string]int{}}
	resolve := Cached(secrets)
	var first *kafkaconn.Security
	for n := range 100 {
		sec, err := resolve(&contract.Resource{UID: fmt.Sprint(n), Auth: &contract.SecretRef{Namespace: "ns", Name: "shared"}})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = sec
		} else if sec != first {
			t.Fatal("resources sharing a Secret got different Security values")
		}
	}
	if _, err := resolve(&contract.Resource{Auth: &contract.SecretRef{Namespace: "ns", Name: "absent"}}); err == nil {
		t.Error("a missing secret resolved")
	}
	if _, err := resolve(&contract.Resource{Auth: &contract.SecretRef{Namespace: "ns", Name: "absent"}}); err == nil {
		t.Error("a missing secret resolved the second time")
	}
	if diff := cmp.Diff(map[string]int{"ns/shared": 1, "ns/absent": 1}, secrets.reads); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
}

// Each refusal names the keys behind it: the CA for an untrusted broker, the client
// certificate for a handshake the broker ended.
func TestRefusedNamesTheKeysOfEachReason(t *testing.T) {
	auth := &contract.Resource{Auth: &contract.SecretRef{Namespace: "ns", Name: "tls"}}
	specNet := &contract.Resource{Namespace: "team", Net: &kafkaconn.Net{TLS: kafkaconn.NetTLS{Enable: true,
		CACert: kafkaconn.KeyRef{Secret: "ca", Key: "ca.pem"},
		Cert:   kafkaconn.KeyRef{Secret: "client", Key: "crt"},
		Key:    kafkaconn.KeyRef{Secret: "client", Key: "key"},
	}}}
	untrusted := fmt.Errorf("dialing: %w", x509.UnknownAuthorityError{})
	handshake := &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}
	for _, tt := range []struct {
		res    *contract.Resource
		err    error
		reason kafkaconn.Reason
		want   string
	}{
		{auth, untrusted, kafkaconn.ReasonServerCertificateUntrusted, `keys ["ca.crt"] of secret "ns/tls"`},
		{auth, handshake, kafkaconn.ReasonTLSHandshakeFailed, `keys ["user.crt" "user.key"] of secret "ns/tls"`},
		{specNet, untrusted, kafkaconn.ReasonServerCertificateUntrusted, `net.tls.caCert (key "ca.pem" of secret "team/ca")`},
		{specNet, handshake, kafkaconn.ReasonTLSHandshakeFailed, `net.tls.cert (key "crt" of secret "team/client"), net.tls.key (key "key" of secret "team/client")`},
	} {
		reason, msg, ok := Refused(tt.res, tt.err)
		if !ok || reason != tt.reason || !strings.Contains(msg, tt.want) {
			t.Errorf("Refused(%v) = %q, %q, %v; want %s and a message with %s", tt.err, reason, msg, ok, tt.reason, tt.want)
		}
	}
}
