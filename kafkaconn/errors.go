package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Reason says in one CamelCase word why Kafka cannot be reached with the given settings; it is
// meant for a Ready condition's reason.
type Reason string

// Reasons of configuration errors (Error) and of failed connections (ReasonOf).
const (
	// ReasonSecretNotFound: a Secret the settings reference does not exist.
	ReasonSecretNotFound Reason = "SecretNotFound"
	// ReasonSecretKeyMissing: a key the protocol needs is absent or empty.
	ReasonSecretKeyMissing Reason = "SecretKeyMissing"
	// ReasonSecretValueInvalid: a key's value is not one the key accepts (user.skip).
	ReasonSecretValueInvalid Reason = "SecretValueInvalid"
	// ReasonProtocolUnsupported: protocol is not PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL.
	ReasonProtocolUnsupported Reason = "ProtocolUnsupported"
	// ReasonSASLMechanismUnsupported: the SASL mechanism is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	ReasonSASLMechanismUnsupported Reason = "SASLMechanismUnsupported"
	// ReasonOAuthBearerUnsupported: the SASL mechanism is OAUTHBEARER, which knkafka does not support yet.
	ReasonOAuthBearerUnsupported Reason = "OAuthBearerUnsupported" //nolint:gosec // a Ready reason, not a credential
	// ReasonCertificateInvalid: ca.crt or user.crt holds no usable PEM certificate.
	ReasonCertificateInvalid Reason = "CertificateInvalid"
	// ReasonPrivateKeyInvalid: user.key holds no usable private key, or not the one of user.crt.
	ReasonPrivateKeyInvalid Reason = "PrivateKeyInvalid"

	// ReasonSASLAuthenticationFailed: the cluster refused the SASL credentials.
	ReasonSASLAuthenticationFailed Reason = "SASLAuthenticationFailed"
	// ReasonServerCertificateUntrusted: the broker's certificate is not signed by a trusted CA
	// (ca.crt, or the system's roots without it) or does not name the broker.
	ReasonServerCertificateUntrusted Reason = "ServerCertificateUntrusted"
	// ReasonTLSHandshakeFailed: the broker ended the TLS handshake, typically because it
	// requires a client certificate that was not given or that it does not trust.
	ReasonTLSHandshakeFailed Reason = "TLSHandshakeFailed"
)

// Error is a Secret (or spec.net) that cannot be turned into client settings. Its message
// names the Secret key at fault and never contains a value read from a Secret.
type Error struct {
	// Reason classifies the error.
	Reason Reason
	// Field is the KafkaSource field at fault, like "net.tls.caCert"; empty for a Secret.
	Field string
	// Secret names the Secret at fault when the error knows it (ParseNet); callers of
	// ParseSecret know the Secret and add its name themselves.
	Secret string
	// Key is the Secret key at fault; empty when a spec.net field names no key.
	Key string
	// detail is the fixed text that says what is wrong.
	detail string
}

// Error names the field, Secret and key, then what is wrong.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q", e.Key)
		if e.Secret != "" {
			fmt.Fprintf(&b, " of secret %q", e.Secret)
		}
		b.WriteString(": ")
	} else if e.Secret != "" {
		fmt.Fprintf(&b, "secret %q: ", e.Secret)
	}
	b.WriteString(e.detail)
	return b.String()
}

// ReasonOf classifies err: the Reason of an *Error in its chain, or the reason a connection
// made with Security's options failed (refused SASL credentials, an untrusted broker
// certificate, a TLS handshake the broker ended). It returns false for anything else, such as
// an unreachable broker or a cancelled context.
func ReasonOf(err error) (Reason, bool) {
	if err == nil {
		return "", false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		alert            tls.AlertError
		op               *net.OpError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState):
		return ReasonSASLAuthenticationFailed, true
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return ReasonServerCertificateUntrusted, true
	case errors.As(err, &alert):
		return ReasonTLSHandshakeFailed, true
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports an alert the broker sent (certificate required, bad certificate)
		// as a net.OpError with this Op around its unexported alert type.
		return ReasonTLSHandshakeFailed, true
	}
	return "", false
}

// SecretNotFound is the error of a Secret that settings reference and that does not exist;
// secret names it (for example "namespace/name"). Callers that read Secrets themselves, before
// ParseSecret, report a missing one with it so that ReasonOf gives ReasonSecretNotFound.
func SecretNotFound(secret string) *Error {
	return &Error{Reason: ReasonSecretNotFound, Secret: secret, detail: "secret not found"}
}
