package kafkaconn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"knkafka.dev/kafkaconn"
	"knkafka.dev/test/kafkatest"
)

// TestRealKafka connects to a real Apache Kafka with a listener for every security protocol
// (kafkatest.StartSecured), with clients built only from a Kafka auth Secret's data (or a
// KafkaSource's spec.net) through ParseSecret (ParseNet) and Opts, as knkafka's clients are: each protocol produces, consumes in a group and
// commits; each refusal is classified by ReasonOf as the broker really refuses; and a SCRAM
// password rotated with Kafka's own tool stops the old Secret and lets the new one in.
func TestRealKafka(t *testing.T) {
	k := kafkatest.StartSecured(t)
	// The three run side by side (the cluster stops after all of them): the rotation waits
	// mostly on Kafka's tool starting a JVM, the others on the broker.
	t.Run("round trip", func(t *testing.T) { t.Parallel(); testRoundTrips(t, k) })
	t.Run("refusals", func(t *testing.T) { t.Parallel(); testRefusals(t, k) })
	t.Run("SCRAM password rotation", func(t *testing.T) { t.Parallel(); testScramRotation(t, k) })
}

func testRoundTrips(t *testing.T, k *kafkatest.Secured) {
	tests := []struct {
		name     string
		listener kafkatest.Listener
		sec      *kafkaconn.Security
	}{
		{"SASL_PLAINTEXT PLAIN", kafkatest.ListenerSASLPlaintext, parse(t, k.SASLPlaintextSecret(kafkatest.MechanismPlain))},
		{"SASL_PLAINTEXT SCRAM-SHA-256", kafkatest.ListenerSASLPlaintext, parse(t, k.SASLPlaintextSecret(kafkatest.MechanismScramSHA256))},
		{"SASL_PLAINTEXT SCRAM-SHA-512", kafkatest.ListenerSASLPlaintext, parse(t, k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512))},
		{"SSL one-way with user.skip", kafkatest.ListenerSSL, parse(t, k.SSLSecret())},
		{"SSL with a client certificate (mTLS)", kafkatest.ListenerMTLS, parse(t, k.MTLSSecret())},
		{"SASL_SSL PLAIN", kafkatest.ListenerSASLSSL, parse(t, k.SASLSSLSecret(kafkatest.MechanismPlain))},
		{"SASL_SSL SCRAM-SHA-512", kafkatest.ListenerSASLSSL, parse(t, k.SASLSSLSecret(kafkatest.MechanismScramSHA512))},
		{"the older Secret format, SASL_SSL SCRAM-SHA-256", kafkatest.ListenerSASLSSL, parse(t, map[string][]byte{
			"username": []byte(k.ScramUser), "password": []byte(k.ScramPassword),
			"saslType": []byte("SCRAM-SHA-256"), "ca.crt": k.CA.CertPEM,
		})},
		// A KafkaSource's spec.net, its values spread over two Secrets.
		{"spec.net SASL_SSL SCRAM-SHA-512", kafkatest.ListenerSASLSSL, parseNet(t, kafkaconn.Net{
			SASL: kafkaconn.NetSASL{Enable: true, User: kafkaconn.KeyRef{Secret: "creds", Key: "u"},
				Password: kafkaconn.KeyRef{Secret: "creds", Key: "p"}, Type: kafkaconn.KeyRef{Secret: "creds", Key: "t"}},
			TLS: kafkaconn.NetTLS{Enable: true, CACert: kafkaconn.KeyRef{Secret: "tls", Key: "ca.crt"}},
		}, map[string]map[string][]byte{
			"creds": {"u": []byte(k.ScramUser), "p": []byte(k.ScramPassword), "t": []byte("SCRAM-SHA-512")},
			"tls":   {"ca.crt": k.CA.CertPEM},
		})},
		{"spec.net TLS with a client certificate", kafkatest.ListenerMTLS, parseNet(t, kafkaconn.Net{
			TLS: kafkaconn.NetTLS{Enable: true, CACert: kafkaconn.KeyRef{Secret: "tls", Key: "ca.crt"},
				Cert: kafkaconn.KeyRef{Secret: "tls", Key: "tls.crt"}, Key: kafkaconn.KeyRef{Secret: "tls", Key: "tls.key"}},
		}, map[string]map[string][]byte{
			"tls": {"ca.crt": k.CA.CertPEM, "tls.crt": k.Client.CertPEM, "tls.key": k.Client.KeyPEM},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, k, k.Bootstrap(tt.listener), tt.sec)
		})
	}
}

func testRefusals(t *testing.T, k *kafkatest.Secured) {
	with := func(data map[string][]byte, kv ...string) map[string][]byte {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(data, kv[i])
			} else {
				data[kv[i]] = []byte(kv[i+1])
			}
		}
		return data
	}
	const wrong = "not-the-password"
	otherCA := string(k.OtherCA.CertPEM)
	tests := []struct {
		name     string
		listener kafkatest.Listener
		secret   map[string][]byte
		want     kafkaconn.Reason
	}{
		{"PLAIN with a wrong password", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismPlain), "password", wrong), kafkaconn.ReasonSASLAuthenticationFailed},
		{"PLAIN with an unknown user", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismPlain), "user", "nobody"), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SCRAM-SHA-256 with a wrong password", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismScramSHA256), "password", wrong), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SCRAM-SHA-512 with a wrong password", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512), "password", wrong), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SCRAM-SHA-512 with an unknown user", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512), "user", "nobody"), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SCRAM-SHA-512 for the PLAIN user", kafkatest.ListenerSASLPlaintext,
			with(k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512), "user", k.PlainUser, "password", k.PlainPassword), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SASL_SSL SCRAM-SHA-512 with a wrong password", kafkatest.ListenerSASLSSL,
			with(k.SASLSSLSecret(kafkatest.MechanismScramSHA512), "password", wrong), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SASL_SSL PLAIN with a wrong password", kafkatest.ListenerSASLSSL,
			with(k.SASLSSLSecret(kafkatest.MechanismPlain), "password", wrong), kafkaconn.ReasonSASLAuthenticationFailed},
		{"SSL trusting another CA", kafkatest.ListenerSSL,
			with(k.SSLSecret(), "ca.crt", otherCA), kafkaconn.ReasonServerCertificateUntrusted},
		{"SSL without ca.crt (the system's roots)", kafkatest.ListenerSSL,
			with(k.SSLSecret(), "ca.crt", ""), kafkaconn.ReasonServerCertificateUntrusted},
		{"SASL_SSL trusting another CA", kafkatest.ListenerSASLSSL,
			with(k.SASLSSLSecret(kafkatest.MechanismScramSHA512), "ca.crt", otherCA), kafkaconn.ReasonServerCertificateUntrusted},
		{"SSL to a broker whose certificate names another host", kafkatest.ListenerOtherHost,
			k.SSLSecret(), kafkaconn.ReasonServerCertificateUntrusted},
		{"mTLS listener without a client certificate", kafkatest.ListenerMTLS,
			k.SSLSecret(), kafkaconn.ReasonTLSHandshakeFailed},
		{"mTLS listener with a client certificate of another CA", kafkatest.ListenerMTLS,
			with(k.MTLSSecret(), "user.crt", string(k.OtherClient.CertPEM), "user.key", string(k.OtherClient.KeyPEM)), kafkaconn.ReasonTLSHandshakeFailed},
		{"mTLS listener trusting another CA", kafkatest.ListenerMTLS,
			with(k.MTLSSecret(), "ca.crt", otherCA), kafkaconn.ReasonServerCertificateUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := metadata(t, k.Bootstrap(tt.listener), parse(t, tt.secret))
			if err == nil {
				t.Fatalf("the broker answered; want a refusal (%s)", tt.want)
			}
			got, ok := kafkaconn.ReasonOf(err)
			if !ok || got != tt.want {
				t.Fatalf("ReasonOf(%v) (%T) = %q, %v; want %s", err, err, got, ok, tt.want)
			}
			t.Logf("refused as %s: %v", got, err)
		})
	}
}

// testScramRotation changes a SCRAM user's password with Kafka's ConfigCommand, as an operator
// rotating it would, and checks both Secrets on both SCRAM mechanisms and both SASL listeners.
func testScramRotation(t *testing.T, k *kafkatest.Secured) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	user := fmt.Sprintf("rotated-%d", time.Now().UnixNano())
	oldPassword, newPassword := password(t), password(t)
	if err := k.SetScramPassword(ctx, user, oldPassword); err != nil {
		t.Fatal(err)
	}
	secret := func(listener kafkatest.Listener, mechanism, pw string) map[string][]byte {
		data := k.SASLSSLSecret(mechanism)
		if listener == kafkatest.ListenerSASLPlaintext {
			data = k.SASLPlaintextSecret(mechanism)
		}
		data["user"], data["password"] = []byte(user), []byte(pw)
		return data
	}
	type target struct {
		listener  kafkatest.Listener
		mechanism string
	}
	var targets []target
	for _, l := range []kafkatest.Listener{kafkatest.ListenerSASLPlaintext, kafkatest.ListenerSASLSSL} {
		for _, m := range []string{kafkatest.MechanismScramSHA256, kafkatest.MechanismScramSHA512} {
			targets = append(targets, target{l, m})
		}
	}
	for _, tg := range targets {
		if err := metadata(t, k.Bootstrap(tg.listener), parse(t, secret(tg.listener, tg.mechanism, oldPassword))); err != nil {
			t.Fatalf("%s %s before the rotation: %v", tg.listener, tg.mechanism, err)
		}
	}
	servers := k.Bootstrap(kafkatest.ListenerSASLSSL)
	oldSec := parse(t, secret(kafkatest.ListenerSASLSSL, kafkatest.MechanismScramSHA512, oldPassword))
	newSec := parse(t, secret(kafkatest.ListenerSASLSSL, kafkatest.MechanismScramSHA512, newPassword))
	if kafkaconn.Key(servers, oldSec) == kafkaconn.Key(servers, newSec) {
		t.Error("the rotated Secret has the client key of the old one: clients would not be rebuilt")
	}

	began := time.Now()
	if err := k.SetScramPassword(ctx, user, newPassword); err != nil {
		t.Fatal(err)
	}
	t.Logf("kafka-configs rotated the password of %s in %s", user, time.Since(began).Round(100*time.Millisecond))
	for _, tg := range targets {
		err := metadata(t, k.Bootstrap(tg.listener), parse(t, secret(tg.listener, tg.mechanism, oldPassword)))
		if got, ok := kafkaconn.ReasonOf(err); !ok || got != kafkaconn.ReasonSASLAuthenticationFailed {
			t.Errorf("%s %s with the old password after the rotation: %v (reason %q, %v); want %s",
				tg.listener, tg.mechanism, err, got, ok, kafkaconn.ReasonSASLAuthenticationFailed)
		}
		if err := metadata(t, k.Bootstrap(tg.listener), parse(t, secret(tg.listener, tg.mechanism, newPassword))); err != nil {
			t.Errorf("%s %s with the new password: %v", tg.listener, tg.mechanism, err)
		}
	}
	roundTrip(t, k, servers, newSec)
}

func password(t *testing.T) string {
	t.Helper()
	pw, err := kafkatest.RandomPassword()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func parse(t *testing.T, data map[string][]byte) *kafkaconn.Security {
	t.Helper()
	sec, err := kafkaconn.ParseSecret(data)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return sec
}

func parseNet(t *testing.T, n kafkaconn.Net, secrets map[string]map[string][]byte) *kafkaconn.Security {
	t.Helper()
	sec, err := kafkaconn.ParseNet(n, secrets)
	if err != nil {
		t.Fatalf("ParseNet: %v", err)
	}
	return sec
}

// client opens a client of servers with sec's options (kafkaconn.Opts) and extra options,
// closed when the test ends.
func client(t *testing.T, servers []string, sec *kafkaconn.Security, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts, err := kafkaconn.Opts(servers, sec)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// metadata asks servers for their metadata with sec, which needs a finished TLS handshake and
// SASL authentication, without retries; it fails t when no answer comes within 20 s.
func metadata(t *testing.T, servers []string, sec *kafkaconn.Security) error {
	t.Helper()
	cl := client(t, servers, sec, kgo.RequestRetries(0), kgo.DialTimeout(5*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if ctx.Err() != nil {
		t.Fatalf("no answer within 20s (err %v): a broker answers or refuses at once", err)
	}
	return err
}

// roundTrip produces a record to a new topic with sec, consumes it in a consumer group, commits
// it, and reads the committed offset back, all over servers with sec: the broker's produce,
// fetch, group-coordinator and admin paths behind the listener.
func roundTrip(t *testing.T, k *kafkatest.Secured, servers []string, sec *kafkaconn.Security) {
	t.Helper()
	topic := kafkatest.CreateTopic(t, k.Servers, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	value := fmt.Sprintf("%s over %s", t.Name(), sec)
	producer := client(t, servers, sec, kgo.RequiredAcks(kgo.AllISRAcks()))
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("producing over %s: %v", sec, err)
	}

	group := "group-" + topic
	consumer := client(t, servers, sec, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	var got *kgo.Record
	for got == nil {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming over %s: no record within a minute (%v)", sec, fetches.Errors())
		}
		for _, fe := range fetches.Errors() {
			t.Logf("fetch error (retried): %v", fe.Err)
		}
		if recs := fetches.Records(); len(recs) > 0 {
			got = recs[0]
		}
	}
	if string(got.Value) != value || got.Offset != 0 {
		t.Fatalf("consumed %q at offset %d, want %q at 0", got.Value, got.Offset, value)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("committing over %s: %v", sec, err)
	}
	offsets, err := kadm.NewClient(consumer).FetchOffsets(ctx, group)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatalf("fetching the committed offsets over %s: %v", sec, err)
	}
	if o, ok := offsets.Lookup(topic, 0); !ok || o.At != 1 {
		t.Fatalf("committed offset of %s/0: %+v (found %v), want 1", topic, o, ok)
	}
}
