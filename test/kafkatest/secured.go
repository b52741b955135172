package kafkatest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Listener names a listener of the secured test broker, as hack/kafka.sh names it.
type Listener string

// The listeners of a Secured broker.
const (
	// ListenerPlaintext is unauthenticated and unencrypted: inter-broker traffic and the tests'
	// own set-up (topics, SCRAM users) go through it.
	ListenerPlaintext Listener = "PLAINTEXT"
	// ListenerSASLPlaintext authenticates with SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	ListenerSASLPlaintext Listener = "SASL_PLAINTEXT"
	// ListenerSSL is one-way TLS: the broker proves who it is, the client does not.
	ListenerSSL Listener = "SSL"
	// ListenerMTLS is TLS with ssl.client.auth=required: the client must present a certificate
	// signed by the CA.
	ListenerMTLS Listener = "MTLS"
	// ListenerSASLSSL is TLS (one-way) with the SASL mechanisms of ListenerSASLPlaintext.
	ListenerSASLSSL Listener = "SASL_SSL"
	// ListenerOtherHost is one-way TLS whose certificate, signed by the CA, names
	// OtherHostName and not 127.0.0.1: a client that checks the host name refuses it.
	ListenerOtherHost Listener = "OTHER_HOST"
)

// OtherHostName is the only name in the certificate of ListenerOtherHost.
const OtherHostName = "kafka.other-host.invalid"

// SASL mechanisms, as a Kafka auth Secret's sasl.mechanism spells them.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// ConfigCommandClass is the main class of Kafka's kafka-configs tool in the Kafka version
// hack/kafka.sh runs (3.9; it moved to org.apache.kafka.tools in 4.0).
const ConfigCommandClass = "kafka.admin.ConfigCommand"

// securedTimeout bounds one SCRAM credential change: a tool's JVM start on a busy machine, and
// the broker applying the change.
const securedTimeout = 2 * time.Minute

// Secured is a private single-node Kafka with a listener for every security protocol (see the
// Listener constants), started by hack/kafka.sh start --secured. Its certificates and users are
// made fresh for each cluster. Secured's Servers (from Cluster) are the PLAINTEXT listener's;
// Bootstrap gives the others, and the *Secret methods the data of a Kafka auth Secret (the keys
// of Knative's Kafka broker) that reaches one of them.
type Secured struct {
	*Cluster
	// CA signed the broker's certificates and Client; MTLS trusts the client certificates it
	// signed, and nothing else.
	CA *CA
	// OtherCA is unrelated to the cluster: use it as a wrong ca.crt, or to sign a client
	// certificate the MTLS listener refuses (OtherClient).
	OtherCA *CA
	// Client is a client certificate signed by CA, which the MTLS listener accepts.
	Client Leaf
	// OtherClient is a client certificate signed by OtherCA, which the MTLS listener refuses.
	OtherClient Leaf
	// PlainUser and PlainPassword are the SASL PLAIN user the SASL listeners know (from the
	// listeners' JAAS configuration).
	PlainUser, PlainPassword string
	// ScramUser and ScramPassword are a SCRAM-SHA-256 and SCRAM-SHA-512 user, written into the
	// cluster's metadata by Kafka's StorageTool when the node was formatted. Tests that change
	// a password (SetScramPassword) create a user of their own, so as not to disturb others.
	ScramUser, ScramPassword string
	// Version is the Kafka version the cluster runs.
	Version string

	listeners map[Listener][]string
}

// StartSecured starts a Secured cluster for t and stops it, by the PIDs hack/kafka.sh recorded,
// when t ends. It fails t (and says why) when Java or the Kafka jars are missing.
func StartSecured(t testing.TB) *Secured {
	t.Helper()
	began := time.Now()
	s, err := NewSecured(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("secured Kafka %s up in %s: %v", s.Version, time.Since(began).Round(100*time.Millisecond), s.listeners)
	return s
}

// NewSecured makes the certificates and users of a Secured cluster, starts it with its files,
// configuration, data and logs in dir, and returns once the cluster coordinates consumer groups
// and the SCRAM user can log in. The caller stops it with Stop; tests use StartSecured.
func NewSecured(dir string) (*Secured, error) {
	s, in, err := newSecuredMaterial(dir)
	if err != nil {
		return nil, err
	}
	c, out, err := startCluster(filepath.Join(dir, "kafka"), "--secured", in)
	if err != nil {
		return nil, err
	}
	s.Cluster = c
	s.listeners = map[Listener][]string{ListenerPlaintext: c.Servers}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// KAFKA_<LISTENER>_SERVERS=host:port,...
		k, v, _ := strings.Cut(sc.Text(), "=")
		if k == "KAFKA_VERSION" {
			s.Version = v
		}
		name, ok := strings.CutPrefix(k, "KAFKA_")
		if name, found := strings.CutSuffix(name, "_SERVERS"); ok && found && k != EnvBootstrap && v != "" {
			s.listeners[Listener(name)] = strings.Split(v, ",")
		}
	}
	for _, l := range []Listener{ListenerSASLPlaintext, ListenerSSL, ListenerMTLS, ListenerSASLSSL, ListenerOtherHost} {
		if len(s.listeners[l]) == 0 {
			_ = c.Stop()
			return nil, fmt.Errorf("hack/kafka.sh start --secured printed no address for listener %s:\n%s", l, out)
		}
	}
	// The SCRAM user was written into the metadata log when the node was formatted; check that
	// the broker has it, so that a broken set-up fails here and not in some test's assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.waitScramLogin(ctx, s.ScramUser, s.ScramPassword); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("the SCRAM user of the secured cluster: %w", err)
	}
	return s, nil
}

// newSecuredMaterial makes the CAs, certificates and users of a Secured cluster and writes what
// hack/kafka.sh start --secured reads into dir/secured, which it returns.
func newSecuredMaterial(dir string) (*Secured, string, error) {
	s := &Secured{PlainUser: "knkafka-plain", ScramUser: "knkafka-scram"}
	var err error
	if s.PlainPassword, err = RandomPassword(); err != nil {
		return nil, "", err
	}
	if s.ScramPassword, err = RandomPassword(); err != nil {
		return nil, "", err
	}
	if s.CA, err = NewCA("knkafka test CA"); err != nil {
		return nil, "", err
	}
	if s.OtherCA, err = NewCA("knkafka unrelated CA"); err != nil {
		return nil, "", err
	}
	broker, err := s.CA.Server("127.0.0.1", "localhost")
	if err != nil {
		return nil, "", err
	}
	otherHost, err := s.CA.Server(OtherHostName)
	if err != nil {
		return nil, "", err
	}
	if s.Client, err = s.CA.Client("knkafka-client"); err != nil {
		return nil, "", err
	}
	if s.OtherClient, err = s.OtherCA.Client("knkafka-stranger"); err != nil {
		return nil, "", err
	}
	in := filepath.Join(dir, "secured")
	if err := os.MkdirAll(in, 0o700); err != nil {
		return nil, "", fmt.Errorf("creating the secured cluster's directory: %w", err)
	}
	for name, data := range map[string][]byte{
		"ca.crt":         s.CA.CertPEM,
		"broker.pem":     append(append([]byte{}, broker.KeyPEM...), broker.CertPEM...),
		"other-host.pem": append(append([]byte{}, otherHost.KeyPEM...), otherHost.CertPEM...),
		"plain.users":    []byte(s.PlainUser + " " + s.PlainPassword + "\n"),
		"scram.users":    []byte(s.ScramUser + " " + s.ScramPassword + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(in, name), data, 0o600); err != nil {
			return nil, "", fmt.Errorf("writing %s of the secured cluster: %w", name, err)
		}
	}
	return s, in, nil
}

// RandomPassword returns a fresh random password of 24 hexadecimal digits: one that needs no
// quoting in a JAAS file or a ConfigCommand argument.
func RandomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Bootstrap returns the bootstrap servers of listener l, or nil for a listener the cluster does
// not have.
func (s *Secured) Bootstrap(l Listener) []string {
	return append([]string(nil), s.listeners[l]...)
}

// Credentials returns the user and password the cluster knows for mechanism: the PLAIN user for
// PLAIN, the SCRAM user for anything else.
func (s *Secured) Credentials(mechanism string) (user, password string) {
	if mechanism == MechanismPlain {
		return s.PlainUser, s.PlainPassword
	}
	return s.ScramUser, s.ScramPassword
}

// SASLPlaintextSecret returns the data of a Secret that reaches ListenerSASLPlaintext with
// mechanism and the user Credentials gives for it.
func (s *Secured) SASLPlaintextSecret(mechanism string) map[string][]byte {
	user, password := s.Credentials(mechanism)
	return map[string][]byte{
		"protocol":       []byte("SASL_PLAINTEXT"),
		"sasl.mechanism": []byte(mechanism),
		"user":           []byte(user),
		"password":       []byte(password),
	}
}

// SASLSSLSecret returns the data of a Secret that reaches ListenerSASLSSL with mechanism, the
// user Credentials gives for it, and CA as ca.crt.
func (s *Secured) SASLSSLSecret(mechanism string) map[string][]byte {
	data := s.SASLPlaintextSecret(mechanism)
	data["protocol"] = []byte("SASL_SSL")
	data["ca.crt"] = bytes.Clone(s.CA.CertPEM)
	return data
}

// SSLSecret returns the data of a Secret that reaches ListenerSSL: one-way TLS (user.skip)
// trusting CA.
func (s *Secured) SSLSecret() map[string][]byte {
	return map[string][]byte{
		"protocol":  []byte("SSL"),
		"ca.crt":    bytes.Clone(s.CA.CertPEM),
		"user.skip": []byte("true"),
	}
}

// MTLSSecret returns the data of a Secret that reaches ListenerMTLS: TLS trusting CA, with
// Client as the client certificate.
func (s *Secured) MTLSSecret() map[string][]byte {
	return map[string][]byte{
		"protocol": []byte("SSL"),
		"ca.crt":   bytes.Clone(s.CA.CertPEM),
		"user.crt": bytes.Clone(s.Client.CertPEM),
		"user.key": bytes.Clone(s.Client.KeyPEM),
	}
}

// safeCredential is what SetScramPassword passes to ConfigCommand unquoted.
var safeCredential = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// SetScramPassword creates user, or changes its password, for both SCRAM-SHA-256 and
// SCRAM-SHA-512 with Kafka's own ConfigCommand (kafka-configs --alter --add-config
// 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name user), through the
// PLAINTEXT listener. It returns once the broker accepts password for both mechanisms on
// ListenerSASLPlaintext, or when ctx ends. User and password must be of [A-Za-z0-9._-].
func (s *Secured) SetScramPassword(ctx context.Context, user, password string) error {
	if !safeCredential.MatchString(user) || !safeCredential.MatchString(password) {
		return errors.New("SCRAM user and password must be non-empty and of [A-Za-z0-9._-]")
	}
	ctx, cancel := context.WithTimeout(ctx, securedTimeout)
	defer cancel()
	// One run per mechanism: Kafka 3.9 refuses a request that alters one user twice
	// (DuplicateResourceException), and kafka-configs sends both mechanisms in one request. The
	// two runs are independent, so they run side by side.
	mechanisms := []string{MechanismScramSHA256, MechanismScramSHA512}
	errs := make([]error, len(mechanisms))
	var wg sync.WaitGroup
	for i, m := range mechanisms {
		wg.Go(func() {
			stdout, stderr, err := RunTool(ctx, "", ConfigCommandClass, "--bootstrap-server", strings.Join(s.Servers, ","),
				"--alter", "--add-config", m+"=[password="+password+"]", "--entity-type", "users", "--entity-name", user)
			if err != nil {
				// The tool echoes its arguments when it fails; keep the password out of test logs.
				hide := strings.NewReplacer(password, "<password>")
				errs[i] = fmt.Errorf("kafka-configs setting the %s credentials of %q: %w\nstdout:\n%s\nstderr:\n%s",
					m, user, err, hide.Replace(stdout), hide.Replace(stderr))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The controller has the new credentials; the broker applies them from the metadata log
	// a moment later.
	return s.waitScramLogin(ctx, user, password)
}

// waitScramLogin waits until the broker accepts user and password for both SCRAM mechanisms.
func (s *Secured) waitScramLogin(ctx context.Context, user, password string) error {
	auth := scram.Auth{User: user, Pass: password}
	for _, m := range []sasl.Mechanism{auth.AsSha256Mechanism(), auth.AsSha512Mechanism()} {
		if err := s.waitLogin(ctx, m); err != nil {
			return fmt.Errorf("the broker does not accept the SCRAM password of %q: %w", user, err)
		}
	}
	return nil
}

// waitLogin waits until a client authenticating with m gets an answer from ListenerSASLPlaintext.
func (s *Secured) waitLogin(ctx context.Context, m sasl.Mechanism) error {
	for {
		err := login(ctx, s.listeners[ListenerSASLPlaintext], m)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %w)", m.Name(), ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// login asks servers for their metadata, authenticating with m; the answer needs a successful
// SASL exchange.
func login(ctx context.Context, servers []string, m sasl.Mechanism) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.SASL(m), kgo.RequestRetries(0), kgo.DialTimeout(5*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	return err
}
