// Package kafkaconn turns where a Kafka cluster is (bootstrap servers) and how to reach it (a
// Secret, or a KafkaSource's spec.net) into franz-go client options. It is the one place every
// knkafka Kafka client — ingress producers, dispatcher consumers, control-plane admin clients,
// local mode — gets its TLS and SASL settings and its cache key, so they cannot drift apart.
//
// The key types: Security holds parsed, validated settings (ParseSecret, ParseNet) and gives
// the options (Security.Opts, or Opts with the seed brokers); Key is the cache key of a client;
// Error says which Secret key is wrong and why, and ReasonOf classifies it (and connection
// failures) into a Ready reason without matching strings.
//
// The Secret keys and their meaning follow Knative's Kafka broker (knative-extensions'
// eventing-kafka-broker, control-plane/pkg/security) so that users' Secrets keep working;
// docs/security.md lists them. No error or String method ever contains a value read from a
// Secret; Security itself holds the credentials, so never log its fields.
//
// The package imports neither plane: both use it.
package kafkaconn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Protocol is Kafka's security.protocol: whether the connection is encrypted (SSL) and whether
// the client authenticates with SASL.
type Protocol string

// Protocols, spelled as Kafka spells them.
const (
	Plaintext     Protocol = "PLAINTEXT"
	SASLPlaintext Protocol = "SASL_PLAINTEXT"
	SSL           Protocol = "SSL"
	SASLSSL       Protocol = "SASL_SSL"
)

func (p Protocol) usesTLS() bool  { return p == SSL || p == SASLSSL }
func (p Protocol) usesSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// Mechanism is a SASL mechanism.
type Mechanism string

// Mechanisms knkafka supports. OAUTHBEARER is not one of them yet.
const (
	Plain       Mechanism = "PLAIN"
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
)

// oauthBearer is recognised only to say clearly that it is not supported.
const oauthBearer = "OAUTHBEARER"

// ErrNoServers is returned by Opts when no bootstrap server is given.
var ErrNoServers = errors.New("no bootstrap servers")

// Security is how a client reaches a cluster: protocol, SASL credentials and TLS settings,
// parsed and validated. The nil *Security is PLAINTEXT. It is immutable and safe to share.
// It holds credentials: log it only through String, which prints protocol and mechanism.
type Security struct {
	protocol  Protocol
	mechanism Mechanism // empty unless the protocol uses SASL
	user      string
	password  string
	tls       *tls.Config // nil unless the protocol uses TLS
	// digest identifies the settings without revealing them; see Key.
	digest [sha256.Size]byte
}

// Protocol returns the security protocol; PLAINTEXT for nil.
func (s *Security) Protocol() Protocol {
	if s == nil {
		return Plaintext
	}
	return s.protocol
}

// Mechanism returns the SASL mechanism, or "" when the protocol does not use SASL.
func (s *Security) Mechanism() Mechanism {
	if s == nil {
		return ""
	}
	return s.mechanism
}

// ClientCertificate reports whether the client presents a certificate (mutual TLS).
func (s *Security) ClientCertificate() bool {
	return s != nil && s.tls != nil && len(s.tls.Certificates) > 0
}

// String describes s without any credential, e.g. "SASL_SSL/SCRAM-SHA-512".
func (s *Security) String() string {
	p := string(s.Protocol())
	if m := s.Mechanism(); m != "" {
		p += "/" + string(m)
	}
	if s.ClientCertificate() {
		p += "+client-certificate"
	}
	return p
}

// GoString keeps %#v from printing the credentials.
func (s *Security) GoString() string { return "kafkaconn.Security(" + s.String() + ")" }

// Opts returns the franz-go options for s: a TLS dialer (TLS 1.2 or newer) and a SASL
// mechanism, as the protocol asks. It returns nil for PLAINTEXT.
func (s *Security) Opts() []kgo.Opt {
	if s == nil {
		return nil
	}
	var opts []kgo.Opt
	if s.tls != nil {
		// kgo clones the config on every dial and sets ServerName from the broker's host.
		opts = append(opts, kgo.DialTLSConfig(s.tls.Clone()))
	}
	switch s.mechanism {
	case Plain:
		opts = append(opts, kgo.SASL(plain.Auth{User: s.user, Pass: s.password}.AsMechanism()))
	case ScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.password}.AsSha256Mechanism()))
	case ScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.password}.AsSha512Mechanism()))
	}
	return opts
}

// Opts returns the options of a client of the cluster at servers, reached with sec (nil for
// PLAINTEXT): the seed brokers (Servers of servers) followed by sec.Opts().
func Opts(servers []string, sec *Security) ([]kgo.Opt, error) {
	seeds := Servers(servers)
	if len(seeds) == 0 {
		return nil, ErrNoServers
	}
	return append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, sec.Opts()...), nil
}

// Servers returns servers trimmed, without blanks and duplicates, sorted: the same cluster
// however its list was written.
func Servers(servers []string) []string {
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Key returns the cache key of a client of servers reached with sec. Two calls return the same
// key exactly when the normalized servers (Servers) and the effective settings — protocol,
// mechanism, user, password, CA, client certificate and key — are the same, so a rotated
// password or certificate gives a new client while an unrelated change to the Secret does not.
// A PLAINTEXT key is the servers joined by commas.
//
// The credentials enter the key through an HMAC whose key is random per process: the key can
// be logged and compared within one process, but it is not stable across processes (do not
// persist it or compare it between replicas) and it cannot be used to guess a password offline.
func Key(servers []string, sec *Security) string {
	k := strings.Join(Servers(servers), ",")
	if sec.Protocol() == Plaintext {
		return k
	}
	return k + "|" + string(sec.protocol) + "|" + hex.EncodeToString(sec.digest[:16])
}

// digestKey is the per-process HMAC key of Key.
var digestKey = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (it crashes the program instead)
	return b
})

// digestOf hashes fields, each length-prefixed so that no two lists share a digest.
func digestOf(fields ...[]byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, digestKey())
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}
