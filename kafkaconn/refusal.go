package kafkaconn

import (
	"errors"
	"fmt"
	"strings"
)

// Origin says where a client's settings came from, so that a refusal can name the Secret keys
// behind it: Secret ("namespace/name") for an auth Secret, or Net with the namespace of its
// Secrets for a KafkaSource's spec.net. The zero Origin is a client without credentials.
type Origin struct {
	Secret    string
	Net       *Net
	Namespace string
}

// Refusal explains err, the failure of a connection made with the settings of o, when it is a
// Secret that cannot be used (an *Error, which names its Secret and key itself) or Kafka refusing
// the settings (ReasonOf: wrong SASL credentials, an untrusted broker certificate, a handshake
// the broker ended): the reason, and a message naming the Secret and the keys involved, never
// their values. ok is false for any other error.
func Refusal(o Origin, err error) (reason Reason, message string, ok bool) {
	reason, ok = ReasonOf(err)
	if !ok {
		return "", "", false
	}
	var cfg *Error
	if errors.As(err, &cfg) {
		return reason, err.Error(), true
	}
	return reason, fmt.Sprintf("Kafka refused the connection made with %s: %v", o.keysOf(reason), err), true
}

// keysOf names the Secret keys (or spec.net fields) behind reason.
func (o Origin) keysOf(reason Reason) string {
	if o.Net != nil {
		var parts []string
		add := func(field string, ref KeyRef) {
			if ref.Secret != "" {
				parts = append(parts, fmt.Sprintf("%s (key %q of secret %q)", field, ref.Key, o.Namespace+"/"+ref.Secret))
			}
		}
		switch reason {
		case ReasonSASLAuthenticationFailed:
			add("net.sasl.user", o.Net.SASL.User)
			add("net.sasl.password", o.Net.SASL.Password)
			add("net.sasl.type", o.Net.SASL.Type)
		case ReasonServerCertificateUntrusted:
			add("net.tls.caCert", o.Net.TLS.CACert)
		default:
			add("net.tls.cert", o.Net.TLS.Cert)
			add("net.tls.key", o.Net.TLS.Key)
		}
		if len(parts) == 0 {
			return "spec.net"
		}
		return strings.Join(parts, ", ")
	}
	if o.Secret == "" {
		return "no credentials"
	}
	var keys []string
	switch reason {
	case ReasonSASLAuthenticationFailed:
		keys = []string{KeyUser, KeyPassword, KeySASLMechanism}
	case ReasonServerCertificateUntrusted:
		keys = []string{KeyCACert}
	default:
		keys = []string{KeyUserCert, KeyUserKey}
	}
	return fmt.Sprintf("keys %q of secret %q", keys, o.Secret)
}
