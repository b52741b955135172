package kafkaconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// systemCA stands in for a public CA: TestMain makes it the process's only system root
// (SSL_CERT_FILE, SSL_CERT_DIR), so that a Secret without ca.crt can be shown to trust the
// system's roots — and only them — before anything in the process loads the roots.
var systemCA *testCA

type mainFataler struct{}

func (mainFataler) Helper()                      {}
func (mainFataler) Fatal(args ...any)            { log.Fatal(args...) }
func (mainFataler) Fatalf(f string, args ...any) { log.Fatalf(f, args...) }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kafkaconn-roots")
	if err != nil {
		log.Fatal(err)
	}
	systemCA = newCA(mainFataler{}, "system-root")
	file := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(file, systemCA.certPEM, 0o600); err != nil {
		log.Fatal(err)
	}
	os.Setenv("SSL_CERT_FILE", file)
	os.Setenv("SSL_CERT_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// kafkaLog collects what franz-go logs, through kzap as knkafka's clients log, at debug level.
type kafkaLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *kafkaLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *kafkaLog) Sync() error    { return nil }
func (l *kafkaLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func (l *kafkaLog) logger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, l, zap.DebugLevel))
}

// connect opens a client with the options of sec and asks the cluster for its metadata, which
// needs a finished TLS handshake and SASL authentication. It gives up after 10s.
func connect(t *testing.T, klog *kafkaLog, servers []string, sec *Security) error {
	t.Helper()
	opts, err := Opts(servers, sec)
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts,
		kgo.DialTimeout(3*time.Second),
		kgo.RequestRetries(0),
		kgo.WithLogger(kzap.New(klog.logger(), kzap.Level(kgo.LogLevelDebug))),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if ctx.Err() != nil {
		t.Fatalf("no answer within 10s (err %v): a refusal should be immediate", err)
	}
	return err
}

// refused is an expectation of failure without a reason: kfake closes the connection on wrong
// SCRAM credentials where Apache Kafka first answers SASL_AUTHENTICATION_FAILED, so the client
// sees only EOF. (The PLAIN rows have kfake answer as Kafka does; see kafkaLikeRefusal.)
const refused Reason = "<refused>"

// expect checks err against want: "" for success, refused for any failure, else the Reason
// ReasonOf must give.
func expect(t *testing.T, err error, want Reason) {
	t.Helper()
	got, ok := ReasonOf(err)
	switch {
	case want == refused:
		if err == nil {
			t.Error("connected, want a refusal")
		}
	case want == "" && err != nil:
		t.Errorf("connecting: %v (reason %q), want success", err, got)
	case want != "" && err == nil:
		t.Errorf("connected, want %s", want)
	case want != "" && (!ok || got != want):
		t.Errorf("connecting: %v (%T): reason %q, %v; want %s", err, err, got, ok, want)
	}
}

func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	return startCluster(t, opts...).ListenAddrs()
}

func startCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// kafkaLikeRefusal makes c answer a wrong PLAIN password for user as Apache Kafka does — a
// SASLAuthenticate response with SASL_AUTHENTICATION_FAILED — where kfake would just close the
// connection. Everything else kfake handles itself.
func kafkaLikeRefusal(c *kfake.Cluster, user, password string) {
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		parts := bytes.Split(r.SASLAuthBytes, []byte{0}) // PLAIN: authzid NUL user NUL password
		if len(parts) != 3 || string(parts[1]) != user || string(parts[2]) == password {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
}

// serverTLS is a broker's TLS listener: its certificate from ca, and client certificates
// required and verified against clientCA when clientCA is not nil.
func serverTLS(t *testing.T, ca, clientCA *testCA) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.server(t).tls}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg
}

// Distinctive credentials, so that the log check below finds them if they leak.
const (
	plainPass  = "plain-pw-Q7v2Xk"
	scram256   = "scram256-pw-Lm4Tz"
	scram512   = "scram512-pw-Hd9Wq"
	wrongPass  = "wrong-pw-Zr5Pn"
	sslSASLPwd = "sasl-ssl-pw-Bc3Yj"
)

func TestConnectSASL(t *testing.T) {
	c := startCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", plainPass),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", scram256),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", scram512),
	)
	kafkaLikeRefusal(c, "plain-user", plainPass)
	servers := c.ListenAddrs()
	klog := &kafkaLog{}
	tests := []struct {
		name                      string
		mechanism, user, password string
		want                      Reason
	}{
		{"PLAIN", "PLAIN", "plain-user", plainPass, ""},
		{"PLAIN with a wrong password", "PLAIN", "plain-user", wrongPass, ReasonSASLAuthenticationFailed},
		{"SCRAM-SHA-256", "SCRAM-SHA-256", "scram256-user", scram256, ""},
		{"SCRAM-SHA-256 with a wrong password", "SCRAM-SHA-256", "scram256-user", wrongPass, refused},
		{"SCRAM-SHA-512", "SCRAM-SHA-512", "scram512-user", scram512, ""},
		{"SCRAM-SHA-512 with a wrong password", "SCRAM-SHA-512", "scram512-user", wrongPass, refused},
		{"SCRAM-SHA-512 for a SCRAM-SHA-256 user", "SCRAM-SHA-512", "scram256-user", scram256, refused},
		{"PLAIN for a SCRAM user", "PLAIN", "scram512-user", scram512, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := mustParse(t, secret{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": tt.mechanism, "user": tt.user, "password": tt.password})
			expect(t, connect(t, klog, servers, sec), tt.want)
		})
	}
	t.Run("the older Secret format", func(t *testing.T) {
		sec := mustParse(t, secret{"username": "scram512-user", "password": scram512, "saslType": "SCRAM-SHA-512"})
		expect(t, connect(t, klog, servers, sec), "")
	})
	t.Run("no credentials", func(t *testing.T) {
		if err := connect(t, klog, servers, nil); err == nil {
			t.Error("a PLAINTEXT client was served by a SASL-only cluster")
		}
	})
	assertNoSecretInLog(t, klog, plainPass, scram256, scram512, wrongPass)
}

func TestConnectTLS(t *testing.T) {
	ca, other := newCA(t, "kafka-ca"), newCA(t, "other-ca")
	good, rsaGood, foreign := ca.client(t, "alice"), ca.clientRSA(t, "bob"), other.client(t, "mallory")
	oneWay := newCluster(t, kfake.TLS(serverTLS(t, ca, nil)))
	public := newCluster(t, kfake.TLS(serverTLS(t, systemCA, nil)))
	mutual := newCluster(t, kfake.TLS(serverTLS(t, ca, ca)))
	klog := &kafkaLog{}

	tests := []struct {
		name    string
		servers []string
		secret  secret
		want    Reason
	}{
		{"SSL with the cluster's CA", oneWay, secret{"protocol": "SSL", "ca.crt": string(ca.certPEM), "user.skip": "true"}, ""},
		{"SSL with another CA", oneWay, secret{"protocol": "SSL", "ca.crt": string(other.certPEM), "user.skip": "true"}, ReasonServerCertificateUntrusted},
		{"SSL without ca.crt does not trust a private CA", oneWay, secret{"protocol": "SSL", "user.skip": "true"}, ReasonServerCertificateUntrusted},
		{"SSL without ca.crt trusts the system's roots", public, secret{"protocol": "SSL", "user.skip": "true"}, ""},
		{"legacy tls.enabled trusts the system's roots", public, secret{"tls.enabled": "true", "user.skip": "true"}, ""},
		{"mTLS with a client certificate", mutual, secret{"protocol": "SSL", "ca.crt": string(ca.certPEM), "user.crt": string(good.certPEM), "user.key": string(good.keyPEM)}, ""},
		{"mTLS with a PKCS #1 RSA client key", mutual, secret{"protocol": "SSL", "ca.crt": string(ca.certPEM), "user.crt": string(rsaGood.certPEM), "user.key": string(rsaGood.keyPEM)}, ""},
		{"mTLS without a client certificate", mutual, secret{"protocol": "SSL", "ca.crt": string(ca.certPEM), "user.skip": "true"}, ReasonTLSHandshakeFailed},
		{"mTLS with a certificate of another CA", mutual, secret{"protocol": "SSL", "ca.crt": string(ca.certPEM), "user.crt": string(foreign.certPEM), "user.key": string(foreign.keyPEM)}, ReasonTLSHandshakeFailed},
		{"mTLS with the wrong CA for the server", mutual, secret{"protocol": "SSL", "ca.crt": string(other.certPEM), "user.crt": string(good.certPEM), "user.key": string(good.keyPEM)}, ReasonServerCertificateUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, connect(t, klog, tt.servers, mustParse(t, tt.secret)), tt.want)
		})
	}
	t.Run("PLAINTEXT to a TLS listener fails", func(t *testing.T) {
		if err := connect(t, klog, oneWay, nil); err == nil {
			t.Error("a PLAINTEXT client was served by a TLS listener")
		}
	})
	assertNoSecretInLog(t, klog, keyBody(good.keyPEM), keyBody(rsaGood.keyPEM), keyBody(foreign.keyPEM))
}

func TestConnectSASLSSL(t *testing.T) {
	ca, other := newCA(t, "kafka-ca"), newCA(t, "other-ca")
	client := ca.client(t, "alice")
	sasl := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "carol", sslSASLPwd)}
	oneWay := newCluster(t, append(sasl, kfake.TLS(serverTLS(t, ca, nil)))...)
	mutual := newCluster(t, append(sasl, kfake.TLS(serverTLS(t, ca, ca)))...)
	klog := &kafkaLog{}
	base := func(kv ...string) secret {
		s := secret{"protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "carol", "password": sslSASLPwd, "ca.crt": string(ca.certPEM)}
		for i := 0; i < len(kv); i += 2 {
			s[kv[i]] = kv[i+1]
		}
		return s
	}
	tests := []struct {
		name    string
		servers []string
		secret  secret
		want    Reason
	}{
		{"the right password", oneWay, base(), ""},
		{"a wrong password", oneWay, base("password", wrongPass), refused},
		{"a wrong CA", oneWay, base("ca.crt", string(other.certPEM)), ReasonServerCertificateUntrusted},
		{"with a client certificate where the broker requires one", mutual, base("user.crt", string(client.certPEM), "user.key", string(client.keyPEM)), ""},
		{"without a client certificate where the broker requires one", mutual, base(), ReasonTLSHandshakeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, connect(t, klog, tt.servers, mustParse(t, tt.secret)), tt.want)
		})
	}
	t.Run("the net form", func(t *testing.T) {
		sec, err := ParseNet(Net{
			SASL: NetSASL{Enable: true, User: KeyRef{"creds", "u"}, Password: KeyRef{"creds", "p"}, Type: KeyRef{"creds", "t"}},
			TLS:  NetTLS{Enable: true, CACert: KeyRef{"tls", "ca.crt"}},
		}, map[string]map[string][]byte{
			"creds": {"u": []byte("carol"), "p": []byte(sslSASLPwd), "t": []byte("SCRAM-SHA-512")},
			"tls":   {"ca.crt": ca.certPEM},
		})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, connect(t, klog, oneWay, sec), "")
	})
	assertNoSecretInLog(t, klog, sslSASLPwd, wrongPass, keyBody(client.keyPEM))
}

// keyBody is a distinctive piece of a PEM private key's base64 body.
func keyBody(keyPEM []byte) string {
	lines := strings.Split(string(keyPEM), "\n")
	return lines[1]
}

func assertNoSecretInLog(t *testing.T, klog *kafkaLog, secrets ...string) {
	t.Helper()
	logged := klog.String()
	if !strings.Contains(logged, "sasl") && !strings.Contains(logged, "tls") {
		t.Fatalf("franz-go logged almost nothing (%d bytes); the check below would prove nothing", len(logged))
	}
	for _, s := range secrets {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(logged, form) {
				t.Errorf("the client log contains a secret value (%.6s…)", form)
			}
		}
	}
}

// zapCoreTo is a debug-level JSON zap core writing to w.
func zapCoreTo(w io.Writer) zapcore.Core {
	return zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(w), zap.DebugLevel)
}
