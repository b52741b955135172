package kafkaconn

import (
	"crypto/tls"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNet(t *testing.T) {
	p := newPKI(t)
	secrets := map[string]map[string][]byte{
		"sasl": {"name": []byte("u"), "pass": []byte("pw"), "mech": []byte("SCRAM-SHA-512"), "empty": nil},
		"tls":  {"ca.crt": p.ca.certPEM, "user.crt": p.client.certPEM, "user.key": p.client.keyPEM},
	}
	user, pass := KeyRef{"sasl", "name"}, KeyRef{"sasl", "pass"}
	ca, crt, key := KeyRef{"tls", "ca.crt"}, KeyRef{"tls", "user.crt"}, KeyRef{"tls", "user.key"}
	const tls12 = tls.VersionTLS12
	tests := []struct {
		name        string
		net         Net
		wantSecrets []string
		want        summary
	}{
		{"nothing enabled is plaintext", Net{}, nil, summary{Protocol: Plaintext}},
		{"SASL defaults to PLAIN", Net{SASL: NetSASL{Enable: true, User: user, Password: pass}}, []string{"sasl"},
			summary{Protocol: SASLPlaintext, Mechanism: Plain, User: "u", Password: "pw"}},
		{"SASL type from a key", Net{SASL: NetSASL{Enable: true, User: user, Password: pass, Type: KeyRef{"sasl", "mech"}}}, []string{"sasl"},
			summary{Protocol: SASLPlaintext, Mechanism: ScramSHA512, User: "u", Password: "pw"}},
		{"TLS with a client certificate", Net{TLS: NetTLS{Enable: true, CACert: ca, Cert: crt, Key: key}}, []string{"tls"},
			summary{Protocol: SSL, CustomCA: true, ClientCert: true, MinTLS: tls12}},
		{"SASL and TLS from two Secrets", Net{SASL: NetSASL{Enable: true, User: user, Password: pass}, TLS: NetTLS{Enable: true, CACert: ca}}, []string{"sasl", "tls"},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", CustomCA: true, MinTLS: tls12}},
		{"SASL and mutual TLS", Net{SASL: NetSASL{Enable: true, User: user, Password: pass}, TLS: NetTLS{Enable: true, Cert: crt, Key: key}}, []string{"sasl", "tls"},
			summary{Protocol: SASLSSL, Mechanism: Plain, User: "u", Password: "pw", ClientCert: true, MinTLS: tls12}},
		{"references of a disabled part are still read", Net{SASL: NetSASL{User: user}}, []string{"sasl"}, summary{Protocol: Plaintext}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.wantSecrets, tt.net.Secrets()); diff != "" {
				t.Errorf("Secrets() (-want +got):\n%s", diff)
			}
			got, err := ParseNet(tt.net, secrets)
			if err != nil {
				t.Fatalf("ParseNet: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(got)); diff != "" {
				t.Errorf("ParseNet (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNetErrors(t *testing.T) {
	p := newPKI(t)
	secrets := map[string]map[string][]byte{
		"sasl": {"name": []byte("u"), "pass": []byte("pw"), "oauth": []byte("OAUTHBEARER"), "empty": {}},
		"tls":  {"ca.crt": p.ca.certPEM, "bad": []byte("junk"), "user.crt": p.client.certPEM, "user.key": p.client.keyPEM},
	}
	user, pass := KeyRef{"sasl", "name"}, KeyRef{"sasl", "pass"}
	tests := []struct {
		name string
		net  Net
		want errSummary
	}{
		{"a missing Secret", Net{SASL: NetSASL{Enable: true, User: KeyRef{"gone", "name"}, Password: pass}},
			errSummary{Reason: ReasonSecretNotFound, Field: "net.sasl.user", Secret: "gone"}},
		{"a missing key", Net{SASL: NetSASL{Enable: true, User: user, Password: KeyRef{"sasl", "nope"}}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.sasl.password", Secret: "sasl", Key: "nope"}},
		{"an empty value", Net{SASL: NetSASL{Enable: true, User: KeyRef{"sasl", "empty"}, Password: pass}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.sasl.user", Secret: "sasl", Key: "empty"}},
		{"a reference without a key", Net{TLS: NetTLS{Enable: true, CACert: KeyRef{Secret: "tls"}}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.tls.caCert", Secret: "tls"}},
		{"a disabled part's missing Secret", Net{TLS: NetTLS{CACert: KeyRef{"gone", "ca.crt"}}},
			errSummary{Reason: ReasonSecretNotFound, Field: "net.tls.caCert", Secret: "gone"}},
		{"SASL without a user", Net{SASL: NetSASL{Enable: true, Password: pass}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.sasl.user"}},
		{"SASL without a password", Net{SASL: NetSASL{Enable: true, User: user}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.sasl.password"}},
		{"OAUTHBEARER", Net{SASL: NetSASL{Enable: true, User: user, Password: pass, Type: KeyRef{"sasl", "oauth"}}},
			errSummary{Reason: ReasonOAuthBearerUnsupported, Field: "net.sasl.type", Secret: "sasl", Key: "oauth"}},
		{"TLS without SASL needs a client certificate", Net{TLS: NetTLS{Enable: true, CACert: KeyRef{"tls", "ca.crt"}}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.tls.key"}},
		{"TLS with a key but no certificate", Net{TLS: NetTLS{Enable: true, Key: KeyRef{"tls", "user.key"}}},
			errSummary{Reason: ReasonSecretKeyMissing, Field: "net.tls.cert"}},
		{"a bad CA", Net{SASL: NetSASL{Enable: true, User: user, Password: pass}, TLS: NetTLS{Enable: true, CACert: KeyRef{"tls", "bad"}}},
			errSummary{Reason: ReasonCertificateInvalid, Field: "net.tls.caCert", Secret: "tls", Key: "bad"}},
		{"a certificate that is not one", Net{TLS: NetTLS{Enable: true, Cert: KeyRef{"tls", "bad"}, Key: KeyRef{"tls", "user.key"}}},
			errSummary{Reason: ReasonCertificateInvalid, Field: "net.tls.cert", Secret: "tls", Key: "bad"}},
		{"a key that is not one", Net{TLS: NetTLS{Enable: true, Cert: KeyRef{"tls", "user.crt"}, Key: KeyRef{"tls", "bad"}}},
			errSummary{Reason: ReasonPrivateKeyInvalid, Field: "net.tls.key", Secret: "tls", Key: "bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNet(tt.net, secrets)
			if err == nil {
				t.Fatalf("ParseNet = %v, want an error", got)
			}
			if diff := cmp.Diff(tt.want, summarizeErr(t, err)); diff != "" {
				t.Errorf("ParseNet error %q (-want +got):\n%s", err, diff)
			}
		})
	}
}
