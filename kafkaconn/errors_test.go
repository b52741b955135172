package kafkaconn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"nil", nil, ""},
		{"a wrapped *Error", fmt.Errorf("secret %q: %w", "s", &Error{Reason: ReasonSecretKeyMissing, Key: "user"}), ReasonSecretKeyMissing},
		{"SASL refused", fmt.Errorf("metadata: %w", kerr.SaslAuthenticationFailed), ReasonSASLAuthenticationFailed},
		{"an unknown CA", fmt.Errorf("dial: %w", x509.UnknownAuthorityError{}), ReasonServerCertificateUntrusted},
		{"a broker's alert", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, ReasonTLSHandshakeFailed},
		{"a refused dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, ""},
		{"a deadline", context.DeadlineExceeded, ""},
		{"another Kafka error", kerr.TopicAuthorizationFailed, ""},
	}
	for _, tt := range tests {
		got, ok := ReasonOf(tt.err)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: ReasonOf = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

func TestSecretNotFoundNamesTheSecret(t *testing.T) {
	err := fmt.Errorf("broker b: %w", SecretNotFound("ns/kafka-auth"))
	if r, ok := ReasonOf(err); !ok || r != ReasonSecretNotFound {
		t.Errorf("ReasonOf = %q, %v; want %s", r, ok, ReasonSecretNotFound)
	}
	if got, want := err.Error(), `broker b: secret "ns/kafka-auth": secret not found`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
