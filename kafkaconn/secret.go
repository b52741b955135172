package kafkaconn

import (
	"strconv"
	"strings"
)

// Secret keys, as Knative's Kafka broker reads them.
const (
	KeyProtocol      = "protocol"
	KeySASLMechanism = "sasl.mechanism"
	KeyUser          = "user"
	KeyPassword      = "password"
	KeyCACert        = "ca.crt"
	KeyUserCert      = "user.crt"
	KeyUserKey       = "user.key"
	KeyUserSkip      = "user.skip"

	// Keys of the older Secret format (the one of the eventing-kafka channel), read only when
	// the Secret has no protocol.
	KeyLegacyUsername    = "username"
	KeyLegacySASLType    = "saslType"
	KeyLegacySASLTypeLow = "sasltype"
	KeyLegacyTLSEnabled  = "tls.enabled"
)

// field is one setting and where it came from, so that an error can name its origin.
type field struct {
	value   []byte
	present bool
	// key is the Secret key the value was (or would be) read from; secret and spec are set
	// for the net form only: the Secret's name and the KafkaSource field.
	key, secret, spec string
}

// settings are what the protocol-specific checks read, whichever form they came from.
type settings struct {
	protocol                  field
	mechanism, user, password field
	ca, cert, key, skip       field
	// missingHint ends the error of a client certificate the SSL protocol requires.
	missingHint string
}

func (f field) err(r Reason, detail string) *Error {
	return &Error{Reason: r, Field: f.spec, Secret: f.secret, Key: f.key, detail: detail}
}

// ParseSecret parses the data of a Kafka auth Secret (corev1.Secret.Data, with any stringData
// already merged in) into Security. A Secret with a non-empty protocol key is read as Knative's
// Kafka broker reads it:
//
//	protocol        PLAINTEXT | SASL_PLAINTEXT | SSL | SASL_SSL (case-sensitive)
//	sasl.mechanism  PLAIN (default) | SCRAM-SHA-256 | SCRAM-SHA-512; SASL protocols only
//	user, password  required, non-empty, for the SASL protocols
//	ca.crt          PEM CA certificates for the TLS protocols; the system's roots without it
//	user.crt        PEM client certificate (chain) and its private key (PKCS #8, PKCS #1 or
//	user.key        EC): required for SSL unless user.skip is true; used by SASL_SSL when both
//	                are present
//	user.skip       "true" (any strconv.ParseBool spelling): SSL without a client certificate
//
// A Secret without protocol is the older format: protocol is SSL when tls.enabled is true or
// ca.crt is non-empty, SASL when password and username or user are present, both (SASL_SSL)
// or neither (PLAINTEXT); the mechanism comes from saslType, else sasltype, else
// sasl.mechanism; the user from user, else username. Then the rules above apply.
//
// Keys a protocol does not use are ignored, as are unknown keys. Errors are *Error.
func ParseSecret(data map[string][]byte) (*Security, error) {
	s := settings{
		protocol:    lookup(data, KeyProtocol),
		mechanism:   lookup(data, KeySASLMechanism),
		user:        lookup(data, KeyUser),
		password:    lookup(data, KeyPassword),
		ca:          lookup(data, KeyCACert),
		cert:        lookup(data, KeyUserCert),
		key:         lookup(data, KeyUserKey),
		skip:        lookup(data, KeyUserSkip),
		missingHint: `; set "user.skip: true" to connect without a client certificate`,
	}
	if len(s.protocol.value) == 0 {
		s = legacy(data, s)
	}
	return build(s)
}

func lookup(data map[string][]byte, key string) field {
	v, ok := data[key]
	return field{value: v, present: ok, key: key}
}

// legacy derives protocol, mechanism and user of a Secret in the older format, as the
// incumbent's control plane does (secrets_provider_legacy_channel_secret.go).
func legacy(data map[string][]byte, s settings) settings {
	tlsOn, _ := strconv.ParseBool(string(data[KeyLegacyTLSEnabled])) // anything else is false
	tlsOn = tlsOn || len(data[KeyCACert]) > 0
	_, hasUsername := data[KeyLegacyUsername]
	saslOn := s.password.present && (s.user.present || hasUsername)
	p := Plaintext
	switch {
	case tlsOn && saslOn:
		p = SASLSSL
	case tlsOn:
		p = SSL
	case saslOn:
		p = SASLPlaintext
	}
	s.protocol = field{value: []byte(p), present: true, key: KeyProtocol}
	for _, k := range []string{KeyLegacySASLType, KeyLegacySASLTypeLow} {
		if f := lookup(data, k); f.present {
			s.mechanism = f
			break
		}
	}
	if !s.user.present {
		s.user = lookup(data, KeyLegacyUsername)
	}
	return s
}

// build checks s for its protocol and makes the Security.
func build(s settings) (*Security, error) {
	p := Protocol(s.protocol.value)
	switch p {
	case Plaintext, SASLPlaintext, SSL, SASLSSL:
	default:
		detail := "unsupported protocol; want PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL"
		if q := Protocol(strings.ToUpper(string(s.protocol.value))); q.usesTLS() || q.usesSASL() || q == Plaintext {
			detail += " (upper case)"
		}
		return nil, s.protocol.err(ReasonProtocolUnsupported, detail)
	}
	sec := &Security{protocol: p}
	digest := [][]byte{[]byte(p)}
	if p.usesSASL() {
		if err := s.sasl(sec); err != nil {
			return nil, err
		}
		digest = append(digest, []byte(sec.mechanism), s.user.value, s.password.value)
	}
	if p.usesTLS() {
		material, err := s.tlsConfig(sec)
		if err != nil {
			return nil, err
		}
		digest = append(digest, material...)
	}
	sec.digest = digestOf(digest...)
	return sec, nil
}

func (s settings) sasl(sec *Security) error {
	sec.mechanism = Plain
	if s.mechanism.present {
		switch m := Mechanism(s.mechanism.value); m {
		case Plain, ScramSHA256, ScramSHA512:
			sec.mechanism = m
		case oauthBearer:
			return s.mechanism.err(ReasonOAuthBearerUnsupported,
				"SASL mechanism OAUTHBEARER is not supported by knkafka yet; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		default:
			return s.mechanism.err(ReasonSASLMechanismUnsupported,
				"unsupported SASL mechanism; want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (case-sensitive)")
		}
	}
	if len(s.user.value) == 0 {
		return s.user.err(ReasonSecretKeyMissing, "SASL user is missing or empty")
	}
	if len(s.password.value) == 0 {
		return s.password.err(ReasonSecretKeyMissing, "SASL password is missing or empty")
	}
	sec.user, sec.password = string(s.user.value), string(s.password.value)
	return nil
}
