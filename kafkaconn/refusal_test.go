package kafkaconn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestRefusalNamesTheKeysBehindTheReason(t *testing.T) {
	sasl := fmt.Errorf("creating topic: %w", kerr.SaslAuthenticationFailed)
	net := &Net{SASL: NetSASL{Enable: true, User: KeyRef{"creds", "u"}, Password: KeyRef{"creds", "p"}}}
	for _, tc := range []struct {
		name   string
		origin Origin
		err    error
		reason Reason
		want   []string
	}{
		{"auth secret", Origin{Secret: "ns/kafka-auth"}, sasl, ReasonSASLAuthenticationFailed,
			[]string{`secret "ns/kafka-auth"`, `"user"`, `"password"`, "SASL_AUTHENTICATION_FAILED"}},
		{"spec.net", Origin{Net: net, Namespace: "src"}, sasl, ReasonSASLAuthenticationFailed,
			[]string{`net.sasl.user (key "u" of secret "src/creds")`, `net.sasl.password (key "p" of secret "src/creds")`}},
		{"no credentials", Origin{}, sasl, ReasonSASLAuthenticationFailed, []string{"no credentials"}},
		{"configuration error", Origin{Secret: "ns/x"}, SecretNotFound("ns/x"), ReasonSecretNotFound, []string{`secret "ns/x"`, "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg, ok := Refusal(tc.origin, tc.err)
			if !ok || reason != tc.reason {
				t.Fatalf("Refusal = %q, %q, %t; want reason %q", reason, msg, ok, tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %s", msg, w)
				}
			}
		})
	}
	if _, _, ok := Refusal(Origin{Secret: "ns/x"}, fmt.Errorf("dial tcp: connection refused")); ok {
		t.Error("an unreachable broker is not a refusal of the credentials")
	}
}
