package kafkaconn

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary is what a test can tell about a Security from the outside, plus the credentials.
type summary struct {
	Protocol   Protocol
	Mechanism  Mechanism
	User       string
	Password   string
	CustomCA   bool // ca.crt was used; false means the system's roots
	ClientCert bool
	MinTLS     uint16
}

func summarize(s *Security) summary {
	sum := summary{Protocol: s.Protocol(), Mechanism: s.Mechanism(), User: s.user, Password: s.password}
	if s.tls != nil {
		sum.CustomCA = s.tls.RootCAs != nil
		sum.ClientCert = len(s.tls.Certificates) > 0
		sum.MinTLS = s.tls.MinVersion
	}
	return sum
}

// errSummary is what callers may branch on.
type errSummary struct {
	Reason             Reason
	Field, Secret, Key string
}

func summarizeErr(t *testing.T, err error) errSummary {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *kafkaconn.Error", err, err)
	}
	r, ok := ReasonOf(err)
	if !ok || r != e.Reason {
		t.Errorf("ReasonOf = %q, %v; want %q", r, ok, e.Reason)
	}
	if e.Key != "" && !strings.Contains(err.Error(), `"`+e.Key+`"`) {
		t.Errorf("message %q does not name key %q", err, e.Key)
	}
	return errSummary{Reason: e.Reason, Field: e.Field, Secret: e.Secret, Key: e.Key}
}

// pki is the certificate material the tables use.
type pki struct {
	ca, otherCA                *testCA
	client, rsaClient, foreign leaf
	bundle                     []byte
}

func newPKI(t fataler) pki {
	ca, other := newCA(t, "kafka-ca"), newCA(t, "other-ca")
	return pki{
		ca: ca, otherCA: other,
		client:    ca.client(t, "alice"),
		rsaClient: ca.clientRSA(t, "bob"),
		foreign:   other.client(t, "mallory"),
		bundle:    append(append([]byte("# the cluster CA, then the old one\n"), ca.certPEM...), other.certPEM...),
	}
}

type secret map[string]string

func (s secret) data() map[string][]byte {
	if s == nil {
		return nil
	}
	d := make(map[string][]byte, len(s))
	for k, v := range s {
		d[k] = []byte(v)
	}
	return d
}

func TestParseSecret(t *testing.T) {
	p := newPKI(t)
	ca, crt, key := string(p.ca.certPEM), string(p.client.certPEM), string(p.client.keyPEM)
	const tls12 = tls.VersionTLS12
	sasl := func(m Mechanism) summary {
		return summary{Protocol: SASLPlaintext, Mechanism: m, User: "u", Password: "pw"}
	}
	tests := []struct {
		name   string
		secret secret
		want   summary
	}{
		{"no data is plaintext", nil, summary{Protocol: Plaintext}},
		{"an empty secret is plaintext", secret{}, summary{Protocol: Plaintext}},
		{"PLAINTEXT ignores every other key", secret{"protocol": "PLAINTEXT", "ca.crt": "junk", "user.key": "junk", "sasl.mechanism": "NOPE"}, summary{Protocol: Plaintext}},
		{"an empty protocol reads the older format", secret{"protocol": ""}, summary{Protocol: Plaintext}},
		{"SASL_PLAINTEXT defaults to PLAIN", secret{"protocol": "SASL_PLAINTEXT", "user": "u", "password": "pw"}, sasl(Plain)},
		{"SASL_PLAINTEXT with PLAIN", secret{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "user": "u", "password": "pw"}, sasl(Plain)},
		{"SASL_PLAINTEXT with SCRAM-SHA-256", secret{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256", "user": "u", "password": "pw"}, sasl(ScramSHA256)},
		{"SASL_PLAINTEXT with SCRAM-SHA-512", secret{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "pw"}, sasl(ScramSHA512)},
		{"SASL_PLAINTEXT ignores TLS keys", secret{"protocol": "SASL_PLAINTEXT", "user": "u", "password": "pw", "ca.crt": "junk", "user.crt": "junk"}, sasl(Plain)},
		{"SASL_PLAINTEXT ignores the legacy user key", secret{"protocol": "SASL_PLAINTEXT", "user": "u", "username": "legacy", "password": "pw", "saslType": "SCRAM-SHA-512"}, sasl(Plain)},
		{"SSL with CA and client certificate", secret{"protocol": "SSL", "ca.crt": ca, "user.crt": crt, "user.key": key},
			summary{Protocol: SSL, CustomCA: true, ClientCert: true, MinTLS: tls12}},
		{"SSL with user.skip uses the system roots and no client certificate", secret{"protocol": "SSL", "user.skip": "true"},
			summary{Protocol: SSL, MinTLS: tls12}},
		{"SSL with user.skip 1 and a CA", secret{"protocol": "SSL", "user.skip": "1", "ca.crt": ca},
			summary{Protocol: SSL, CustomCA: true, MinTLS: tls12}},
		{"SSL with user.skip TRUE ignores a broken client key", secret{"protocol": "SSL", "user.skip": "TRUE", "user.key": "junk"},
			summary{Protocol: SSL, MinTLS: tls12}},
		{"SSL with user.skip false uses the client certificate", secret{"protocol": "SSL", "user.skip": "false", "user.crt": crt, "user.key": key},
			summary{Protocol: SSL, ClientCert: true, MinTLS: tls12}},
		{"SSL with a PKCS #1 RSA client key", secret{"protocol": "SSL", "user.crt": string(p.rsaClient.certPEM), "user.key": string(p.rsaClient.keyPEM)},
			summary{Protocol: SSL, ClientCert: true, MinTLS: tls12}},
		{"SSL with a CA bundle and text around it", secret{"protocol": "SSL", "ca.crt": string(p.bundle), "user.skip": "true"},
			summary{Protocol: SSL, CustomCA: true, MinTLS: tls12}},
		{"SASL_SSL with a CA and no client certificate", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "ca.crt": ca},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", CustomCA: true, MinTLS: tls12}},
		{"SASL_SSL with SCRAM-SHA-512 and the system roots", secret{"protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "pw"},
			summary{Protocol: SASLSSL, Mechanism: ScramSHA512, User: "u", Password: "pw", MinTLS: tls12}},
		{"SASL_SSL presents a client certificate when both halves are there", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "user.crt": crt, "user.key": key},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", ClientCert: true, MinTLS: tls12}},
		{"SASL_SSL ignores half a client certificate", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "user.crt": crt},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", MinTLS: tls12}},
		{"SASL_SSL ignores user.skip", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "user.skip": "maybe"},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", MinTLS: tls12}},

		// The older format: no protocol key.
		{"legacy username and password are SASL_PLAINTEXT", secret{"username": "u", "password": "pw"}, sasl(Plain)},
		{"legacy user and password are SASL_PLAINTEXT", secret{"user": "u", "password": "pw"}, sasl(Plain)},
		{"legacy user wins over username", secret{"user": "u", "username": "other", "password": "pw"}, sasl(Plain)},
		{"legacy saslType", secret{"username": "u", "password": "pw", "saslType": "SCRAM-SHA-512"}, sasl(ScramSHA512)},
		{"legacy sasltype", secret{"username": "u", "password": "pw", "sasltype": "SCRAM-SHA-256"}, sasl(ScramSHA256)},
		{"legacy saslType wins over sasltype", secret{"username": "u", "password": "pw", "sasltype": "SCRAM-SHA-256", "saslType": "SCRAM-SHA-512"}, sasl(ScramSHA512)},
		{"legacy sasl.mechanism when no saslType", secret{"username": "u", "password": "pw", "sasl.mechanism": "SCRAM-SHA-256"}, sasl(ScramSHA256)},
		{"legacy sasltype wins over sasl.mechanism", secret{"username": "u", "password": "pw", "sasl.mechanism": "PLAIN", "sasltype": "SCRAM-SHA-512"}, sasl(ScramSHA512)},
		{"legacy password alone is plaintext", secret{"password": "pw"}, summary{Protocol: Plaintext}},
		{"legacy ca.crt with credentials is SASL_SSL", secret{"username": "u", "password": "pw", "ca.crt": ca},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", CustomCA: true, MinTLS: tls12}},
		{"legacy tls.enabled with credentials is SASL_SSL on the system roots", secret{"tls.enabled": "true", "username": "u", "password": "pw"},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", MinTLS: tls12}},
		{"legacy tls.enabled that is not a bool is off", secret{"tls.enabled": "yes", "username": "u", "password": "pw"}, sasl(Plain)},
		{"legacy tls.enabled with user.skip is SSL", secret{"tls.enabled": "true", "user.skip": "true"}, summary{Protocol: SSL, MinTLS: tls12}},
		{"legacy ca.crt with a client certificate is SSL", secret{"ca.crt": ca, "user.crt": crt, "user.key": key},
			summary{Protocol: SSL, CustomCA: true, ClientCert: true, MinTLS: tls12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecret(tt.secret.data())
			if err != nil {
				t.Fatalf("ParseSecret: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(got)); diff != "" {
				t.Errorf("ParseSecret (-want +got):\n%s", diff)
			}
			if n := len(got.Opts()); n != wantOpts(tt.want) {
				t.Errorf("Opts() has %d options, want %d", n, wantOpts(tt.want))
			}
		})
	}
}

// wantOpts is one option for TLS plus one for SASL.
func wantOpts(s summary) int {
	n := 0
	if s.Protocol == SSL || s.Protocol == SASLSSL {
		n++
	}
	if s.Mechanism != "" {
		n++
	}
	return n
}

func TestParseSecretErrors(t *testing.T) {
	p := newPKI(t)
	ca, crt, key := string(p.ca.certPEM), string(p.client.certPEM), string(p.client.keyPEM)
	garbageCert := string(pemBlock("CERTIFICATE", []byte("not DER at all")))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	legacyEncrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}))
	sasl := func(kv ...string) secret {
		s := secret{"protocol": "SASL_PLAINTEXT", "user": "u", "password": "pw"}
		for i := 0; i < len(kv); i += 2 {
			s[kv[i]] = kv[i+1]
		}
		return s
	}
	ssl := func(kv ...string) secret {
		s := secret{"protocol": "SSL", "ca.crt": ca, "user.crt": crt, "user.key": key}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(s, kv[i])
				continue
			}
			s[kv[i]] = kv[i+1]
		}
		return s
	}
	tests := []struct {
		name   string
		secret secret
		want   errSummary
	}{
		{"unknown protocol", secret{"protocol": "TLS"}, errSummary{Reason: ReasonProtocolUnsupported, Key: "protocol"}},
		{"lower-case protocol", secret{"protocol": "sasl_ssl"}, errSummary{Reason: ReasonProtocolUnsupported, Key: "protocol"}},
		{"OAUTHBEARER", sasl("sasl.mechanism", "OAUTHBEARER"), errSummary{Reason: ReasonOAuthBearerUnsupported, Key: "sasl.mechanism"}},
		{"unknown mechanism", sasl("sasl.mechanism", "GSSAPI"), errSummary{Reason: ReasonSASLMechanismUnsupported, Key: "sasl.mechanism"}},
		{"lower-case mechanism", sasl("sasl.mechanism", "scram-sha-256"), errSummary{Reason: ReasonSASLMechanismUnsupported, Key: "sasl.mechanism"}},
		{"empty mechanism", sasl("sasl.mechanism", ""), errSummary{Reason: ReasonSASLMechanismUnsupported, Key: "sasl.mechanism"}},
		{"no user", secret{"protocol": "SASL_PLAINTEXT", "password": "pw"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "user"}},
		{"empty user", sasl("user", ""), errSummary{Reason: ReasonSecretKeyMissing, Key: "user"}},
		{"legacy username is not read when protocol is set", secret{"protocol": "SASL_SSL", "username": "u", "password": "pw"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "user"}},
		{"no password", secret{"protocol": "SASL_SSL", "user": "u"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "password"}},
		{"empty password", sasl("password", ""), errSummary{Reason: ReasonSecretKeyMissing, Key: "password"}},
		{"SSL without a client certificate", secret{"protocol": "SSL"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "user.key"}},
		{"SSL certificate without its key", ssl("user.key", "<absent>"), errSummary{Reason: ReasonSecretKeyMissing, Key: "user.key"}},
		{"SSL key without its certificate", ssl("user.crt", "<absent>"), errSummary{Reason: ReasonSecretKeyMissing, Key: "user.crt"}},
		{"SSL with user.skip false and no certificate", secret{"protocol": "SSL", "user.skip": "false"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "user.key"}},
		{"user.skip that is not a bool", secret{"protocol": "SSL", "user.skip": "yes"}, errSummary{Reason: ReasonSecretValueInvalid, Key: "user.skip"}},
		{"ca.crt without PEM", ssl("ca.crt", "just text"), errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
		{"empty ca.crt", ssl("ca.crt", ""), errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
		{"ca.crt holding only a key", ssl("ca.crt", key), errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
		{"ca.crt with a broken certificate after a good one", ssl("ca.crt", ca+garbageCert), errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
		{"SASL_SSL with a bad ca.crt", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "ca.crt": "junk"}, errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
		{"user.crt without PEM", ssl("user.crt", "junk"), errSummary{Reason: ReasonCertificateInvalid, Key: "user.crt"}},
		{"user.crt not DER", ssl("user.crt", garbageCert), errSummary{Reason: ReasonCertificateInvalid, Key: "user.crt"}},
		{"user.key without PEM", ssl("user.key", "junk"), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"user.key holding a certificate", ssl("user.key", crt), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"user.key not DER", ssl("user.key", string(pemBlock("PRIVATE KEY", []byte("nope")))), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"user.key encrypted (PKCS #8)", ssl("user.key", encrypted), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"user.key encrypted (legacy PEM)", ssl("user.key", legacyEncrypted), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"user.key of another certificate", ssl("user.key", string(p.foreign.keyPEM)), errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"SASL_SSL with a mismatched pair", secret{"protocol": "SASL_SSL", "user": "u", "password": "pw", "user.crt": crt, "user.key": string(p.rsaClient.keyPEM)},
			errSummary{Reason: ReasonPrivateKeyInvalid, Key: "user.key"}},
		{"legacy OAUTHBEARER in saslType", secret{"username": "u", "password": "pw", "saslType": "OAUTHBEARER"}, errSummary{Reason: ReasonOAuthBearerUnsupported, Key: "saslType"}},
		{"legacy unknown sasltype", secret{"username": "u", "password": "pw", "sasltype": "PLAINTEXT"}, errSummary{Reason: ReasonSASLMechanismUnsupported, Key: "sasltype"}},
		{"legacy empty username", secret{"username": "", "password": "pw"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "username"}},
		{"legacy empty password", secret{"user": "u", "password": ""}, errSummary{Reason: ReasonSecretKeyMissing, Key: "password"}},
		{"legacy TLS requires a client certificate, as the incumbent does", secret{"tls.enabled": "true"}, errSummary{Reason: ReasonSecretKeyMissing, Key: "user.key"}},
		{"legacy bad ca.crt", secret{"ca.crt": "junk", "user.skip": "true"}, errSummary{Reason: ReasonCertificateInvalid, Key: "ca.crt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecret(tt.secret.data())
			if err == nil {
				t.Fatalf("ParseSecret = %v, want an error", got)
			}
			if diff := cmp.Diff(tt.want, summarizeErr(t, err)); diff != "" {
				t.Errorf("ParseSecret error %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestParseSecretDoesNotChangeData(t *testing.T) {
	data := secret{"username": "u", "password": "pw", "saslType": "SCRAM-SHA-512"}.data()
	if _, err := ParseSecret(data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(secret{"username": "u", "password": "pw", "saslType": "SCRAM-SHA-512"}.data(), data); diff != "" {
		t.Errorf("ParseSecret changed its input (-want +got):\n%s", diff)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Key: "user", detail: "SASL user is missing or empty"}, `key "user": SASL user is missing or empty`},
		{&Error{Field: "net.sasl.user", Secret: "creds", Key: "name", detail: "key is missing or empty"}, `net.sasl.user: key "name" of secret "creds": key is missing or empty`},
		{&Error{Field: "net.tls.caCert", Secret: "tls", detail: "secret not found"}, `net.tls.caCert: secret "tls": secret not found`},
		{&Error{Field: "net.sasl.user", detail: "SASL user is missing or empty"}, `net.sasl.user: SASL user is missing or empty`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
