package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/data-plane/pkg/dataplane"
	"knkafka.dev/data-plane/pkg/dataplane/dataplanetest"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
	"knkafka.dev/test/kafkatest"
)

// securedWait bounds every wait of TestSecuredDataPlaneOnRealKafka for the data plane or a
// subscriber.
const securedWait = 45 * time.Second

// TestSecuredDataPlaneOnRealKafka runs one whole data plane (ingress and dispatcher, in process)
// against one real Kafka with a listener per security protocol (kafkatest.StartSecured), with one
// contract built by contractbuild from Knative objects, as the control plane builds it. For each
// of SASL_PLAINTEXT with PLAIN and with SCRAM-SHA-512, one-way SSL, mutual TLS and SASL_SSL with
// SCRAM-SHA-256, a Broker with a Trigger, a KafkaChannel with a Subscription (both through the
// auth Secret of their ConfigMap) and a KafkaSource (through spec.net's Secret key references)
// deliver end to end. Then a wrong password, an untrusted broker certificate and a missing client
// certificate, each on its own Broker, KafkaChannel and KafkaSource, make exactly those not Ready
// with the reason and the Secret named, and the ingress refuse them with 503, while every good
// resource stays Ready and keeps delivering. Finally a SCRAM password is rotated with Kafka's own
// tool and then in the Secrets while events flow: none is refused or lost. No password or private
// key shows in the logs, the status or the metrics.
func TestSecuredDataPlaneOnRealKafka(t *testing.T) {
	k := kafkatest.StartSecured(t)
	began := time.Now()
	defer func() { t.Logf("the data plane part took %s", time.Since(began).Round(100*time.Millisecond)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The rotation's SCRAM user, of this test's own: Kafka's tool starts a JVM, so it runs while
	// the rest is set up.
	const rotationUser = "knkafka-rotation"
	pw1, pw2, wrongPW := password(t), password(t), password(t)
	rotationUserMade := make(chan error, 1)
	go func() { rotationUserMade <- k.SetScramPassword(ctx, rotationUser, pw1) }()

	sub := newRecorder(t)
	good := []endpoint{{
		name: "sasl-plain", listener: kafkatest.ListenerSASLPlaintext,
		auth: k.SASLPlaintextSecret(kafkatest.MechanismPlain),
		net:  netValues{mechanism: kafkatest.MechanismPlain, user: k.PlainUser, password: k.PlainPassword},
	}, {
		name: "sasl-scram512", listener: kafkatest.ListenerSASLPlaintext,
		auth: k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512),
		net:  netValues{mechanism: kafkatest.MechanismScramSHA512, user: k.ScramUser, password: k.ScramPassword},
	}, {
		// spec.net has no user.skip: without SASL, TLS takes a client certificate, which the
		// one-way listener does not ask for.
		name: "ssl", listener: kafkatest.ListenerSSL, auth: k.SSLSecret(),
		net: netValues{tls: true, ca: k.CA.CertPEM, cert: &k.Client},
	}, {
		name: "mtls", listener: kafkatest.ListenerMTLS, auth: k.MTLSSecret(),
		net: netValues{tls: true, ca: k.CA.CertPEM, cert: &k.Client},
	}, {
		name: "sasl-ssl-scram256", listener: kafkatest.ListenerSASLSSL,
		auth: k.SASLSSLSecret(kafkatest.MechanismScramSHA256),
		net:  netValues{mechanism: kafkatest.MechanismScramSHA256, user: k.ScramUser, password: k.ScramPassword, tls: true, ca: k.CA.CertPEM},
	}}
	wrongCA := k.SSLSecret()
	wrongCA["ca.crt"] = k.OtherCA.CertPEM
	badPassword := k.SASLPlaintextSecret(kafkatest.MechanismScramSHA512)
	badPassword["password"] = []byte(wrongPW)
	bad := []endpoint{{
		name: "wrong-password", listener: kafkatest.ListenerSASLPlaintext, auth: badPassword,
		net:    netValues{mechanism: kafkatest.MechanismScramSHA512, user: k.ScramUser, password: wrongPW},
		reason: kafkaconn.ReasonSASLAuthenticationFailed,
	}, {
		name: "wrong-ca", listener: kafkatest.ListenerSSL, auth: wrongCA,
		net:    netValues{tls: true, ca: k.OtherCA.CertPEM, cert: &k.Client},
		reason: kafkaconn.ReasonServerCertificateUntrusted,
	}, {
		// The Broker and the KafkaChannel go without a client certificate (user.skip); spec.net
		// cannot, so the KafkaSource offers one the listener's CA did not sign, which a client
		// does not even send (it matches none of the CAs the broker asks for).
		name: "no-client-cert", listener: kafkatest.ListenerMTLS, auth: k.SSLSecret(),
		net:    netValues{tls: true, ca: k.CA.CertPEM, cert: &k.OtherClient},
		reason: kafkaconn.ReasonTLSHandshakeFailed,
	}}
	rotationAuth := func(pw string) map[string][]byte {
		return map[string][]byte{
			"protocol": []byte("SASL_SSL"), "sasl.mechanism": []byte(kafkatest.MechanismScramSHA512),
			"user": []byte(rotationUser), "password": []byte(pw), "ca.crt": k.CA.CertPEM,
		}
	}
	rotationNet := func(pw string) netValues {
		return netValues{mechanism: kafkatest.MechanismScramSHA512, user: rotationUser, password: pw, tls: true, ca: k.CA.CertPEM}
	}
	rotation := endpoint{name: "rotation", listener: kafkatest.ListenerSASLSSL, auth: rotationAuth(pw1), net: rotationNet(pw1)}

	everyone := append(append(slices.Clone(good), bad...), rotation)
	secrets := kafkaauth.NewStatic(nil)
	var topics []string
	for i := range everyone {
		everyone[i].build(t, k, sub.URL)
		everyone[i].setSecrets(secrets)
		topics = append(topics, everyone[i].topics()...)
	}
	good, bad, rotation = everyone[:len(good)], everyone[len(good):len(good)+len(bad)], everyone[len(everyone)-1]
	createTopics(ctx, t, k.Servers, topics)

	h := dataplanetest.Start(t, secrets)
	s, logs, ingressURL := h.Server, h.Logs, h.IngressURL
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("the data plane's last log lines:\n%s", strings.Join(lines[max(0, len(lines)-150):], "\n"))
		}
	})

	// Generation 1: the good endpoints only.
	h.Apply(contractOf(1, good...))
	var ready []dataplanetest.Check
	for _, e := range good {
		ready = append(ready, e.is("")...)
	}
	dataplanetest.WaitStatus(t, s, securedWait, "every good Broker, KafkaChannel and KafkaSource served", ready...)
	// From here on no good resource may leave Ready.
	watch := watchReady(s, good)
	defer watch.stop()
	deliverAll(t, k, sub, ingressURL, good, "first")

	// Generation 2: the refused endpoints and the rotation's join the good ones.
	if err := <-rotationUserMade; err != nil {
		t.Fatal(err)
	}
	h.Apply(contractOf(2, everyone...))
	want := slices.Clone(ready)
	for _, e := range bad {
		want = append(want, e.is(e.reason)...)
	}
	want = append(want, rotation.is("")...)
	dataplanetest.WaitStatus(t, s, securedWait, "the refused endpoints refused with their reasons, the others served", want...)
	if st := s.Status(); st.Generation != 2 {
		t.Errorf("applied generation %d, want 2: refused credentials must not hold back the other resources", st.Generation)
	}
	t.Run("refusals", func(t *testing.T) {
		for _, e := range bad {
			t.Run(e.name, func(t *testing.T) { e.checkRefused(t, s, ingressURL) })
		}
	})

	// The good endpoints keep delivering beside the refused ones, while the password of the
	// rotation's user changes under its endpoint.
	t.Run("deliveries beside refusals", func(t *testing.T) {
		t.Run("good endpoints", func(t *testing.T) {
			t.Parallel()
			deliverAll(t, k, sub, ingressURL, good, "second")
		})
		t.Run("rotation", func(t *testing.T) {
			t.Parallel()
			rotate(t, ctx, k, s, sub, logs, secrets, ingressURL, rotation, pw1, pw2, rotationAuth(pw2), rotationNet(pw2))
		})
	})
	watch.stop()
	left, samples := watch.failures()
	for _, f := range left {
		t.Errorf("a good resource left Ready: %s", f)
	}
	if samples < 20 {
		t.Errorf("the good resources' status was sampled only %d times", samples)
	}
	for _, e := range bad {
		for _, kind := range []string{"trigger", "subscription", "source"} {
			if ids := sub.ids(e.name, kind); len(ids) > 0 {
				t.Errorf("%s's %s received events %v through refused credentials", e.name, kind, ids)
			}
		}
	}

	// Nothing anyone can read holds a password or a private key.
	secretValues := []string{k.PlainPassword, k.ScramPassword, pw1, pw2, wrongPW,
		pemBody(k.Client.KeyPEM), pemBody(k.OtherClient.KeyPEM)}
	for what, text := range map[string]string{
		"the logs":   logs.String(),
		"/status":    httpGet(t, h.AdminURL+contract.StatusPath),
		"/metrics":   httpGet(t, h.AdminURL+"/metrics"),
		"Status()":   fmt.Sprint(s.Status()),
		"contract 2": fmt.Sprintf("%+v", contractOf(2, everyone...)),
	} {
		for i, v := range secretValues {
			if strings.Contains(text, v) {
				t.Errorf("%s hold secret value #%d (%d bytes searched)", what, i, len(text))
			}
		}
	}
	// The rotation re-applied the contract: the good egresses, whose Secrets did not change,
	// went on without a restart.
	for _, e := range good {
		for _, kind := range []string{"trigger", "subscription", "source"} {
			if n := strings.Count(logs.String(), `"msg":"egress started","egress":"`+e.name+"/"+kind+`"`); n != 1 {
				t.Errorf("the %s of %s started %d times, want once", kind, e.name, n)
			}
		}
	}
	for _, word := range []string{"SASL", "certificate"} {
		if !strings.Contains(logs.String(), word) {
			t.Errorf("the logs never mention %q: the search above may have looked at the wrong output", word)
		}
	}
}

// rotate changes the password of the rotation endpoint's SCRAM user from oldPW to newPW with
// Kafka's tool, then its Secrets, while events flow into its Broker and KafkaChannel and records
// into its KafkaSource's topic: every event is accepted (202) and every one arrives, the
// egresses restart with the new credentials, and Kafka refuses the old password.
func rotate(t *testing.T, ctx context.Context, k *kafkatest.Secured, s *dataplane.Server, sub *recorder, logs *dataplanetest.Buffer,
	secrets *kafkaauth.Static, ingressURL string, e endpoint, oldPW, newPW string, newAuth map[string][]byte, newNet netValues) {
	producer := plaintextProducer(t, k)
	flowCtx, endFlow := context.WithCancel(ctx)
	type sent struct {
		ids      map[string][]string // kind → ids sent
		refusals []string
	}
	flowed := make(chan sent, 1)
	var rounds atomic.Int64 // rounds of the flow begun
	go func() {
		out := sent{ids: map[string][]string{}}
		defer func() { flowed <- out }()
		for n := 0; ; n++ {
			rounds.Store(int64(n))
			select {
			case <-flowCtx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, kind := range []string{"trigger", "subscription"} {
				id := fmt.Sprintf("rotation-%s-%d", kind, n)
				code, body, err := postCloudEvent(ingressURL+e.path(kind), id)
				if err != nil || code != http.StatusAccepted {
					out.refusals = append(out.refusals, fmt.Sprintf("%s: %d %q %v", id, code, body, err))
					continue
				}
				out.ids[kind] = append(out.ids[kind], id)
			}
			// The source topic has one partition written only here: a record's id is its offset.
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := producer.ProduceSync(pctx, &kgo.Record{Topic: e.sourceTopic, Value: []byte(strconv.Itoa(n))}).FirstErr()
			cancel()
			if err != nil {
				out.refusals = append(out.refusals, fmt.Sprintf("source record %d: %v", n, err))
				continue
			}
			out.ids["source"] = append(out.ids["source"], "partition:0/offset:"+strconv.Itoa(len(out.ids["source"])))
		}
	}()
	started := func(kind string) int {
		return strings.Count(logs.String(), `"msg":"egress started","egress":"`+e.name+"/"+kind+`"`)
	}
	before := map[string]int{}
	for _, kind := range []string{"trigger", "subscription", "source"} {
		before[kind] = started(kind)
	}

	// Events flow under the old password first, through the change, and under the new one.
	waitRounds := func(from int64) bool {
		deadline := time.Now().Add(securedWait)
		for rounds.Load() < from+10 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		return rounds.Load() >= from+10
	}
	if !waitRounds(0) {
		t.Errorf("the flow made %d rounds in %s before the password changed", rounds.Load(), securedWait)
	}
	if err := k.SetScramPassword(ctx, rotationUserOf(newAuth), newPW); err != nil {
		endFlow()
		<-flowed
		t.Fatal(err)
	}
	secrets.Set(e.authRef(), newAuth)
	secrets.Set(e.netRef(), newNet.secretData())
	deadline := time.Now().Add(securedWait)
	for _, kind := range []string{"trigger", "subscription", "source"} {
		for started(kind) <= before[kind] {
			if time.Now().After(deadline) {
				endFlow()
				<-flowed
				t.Fatalf("the %s of %s did not restart with the new credentials within %s", kind, e.name, securedWait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dataplanetest.WaitStatus(t, s, securedWait, "the rotated endpoint served again", e.is("")...)
	if !waitRounds(rounds.Load()) {
		t.Errorf("the flow made too few rounds in %s after the rotation", securedWait)
	}
	endFlow()
	out := <-flowed
	t.Logf("during the rotation: %d events to the Broker, %d to the KafkaChannel, %d records for the KafkaSource",
		len(out.ids["trigger"]), len(out.ids["subscription"]), len(out.ids["source"]))
	if len(out.refusals) > 0 {
		t.Errorf("%d events or records refused during the rotation, the first: %v", len(out.refusals), out.refusals[:min(3, len(out.refusals))])
	}
	for _, kind := range []string{"trigger", "subscription", "source"} {
		sub.waitFor(t, e.name, kind, out.ids[kind]...)
	}
	// Kafka's tool did change the password: the old one no longer logs in.
	if err := login(ctx, k.Bootstrap(kafkatest.ListenerSASLSSL), withPassword(newAuth, oldPW)); !errors.Is(err, errRefused) {
		t.Errorf("after the rotation the old password: %v, want SASLAuthenticationFailed", err)
	}
}

// rotationUserOf is the user of an auth Secret's data.
func rotationUserOf(auth map[string][]byte) string { return string(auth["user"]) }

// withPassword is a copy of auth with password pw.
func withPassword(auth map[string][]byte, pw string) map[string][]byte {
	out := make(map[string][]byte, len(auth))
	for k, v := range auth {
		out[k] = v
	}
	out["password"] = []byte(pw)
	return out
}

var errRefused = errors.New("SASLAuthenticationFailed")

// login asks servers for metadata with the client kafkaconn makes of an auth Secret's data; it
// returns errRefused when Kafka refuses the credentials.
func login(ctx context.Context, servers []string, data map[string][]byte) error {
	sec, err := kafkaconn.ParseSecret(data)
	if err != nil {
		return err
	}
	opts, err := kafkaconn.Opts(servers, sec)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if reason, ok := kafkaconn.ReasonOf(err); ok && reason == kafkaconn.ReasonSASLAuthenticationFailed {
		return errRefused
	}
	return err
}

// endpoint is one set of Kafka settings and the Knative objects that use it, all in the
// namespace name: a Broker "broker" with a Trigger "trigger" and a KafkaChannel "channel" with a
// Subscription "subscription", both through the auth Secret "kafka-auth" named by their
// ConfigMaps, and a KafkaSource "source" whose spec.net references keys of the Secret
// "source-net". Each delivers to the recorder path /<name>/<trigger|subscription|source>.
type endpoint struct {
	name     string
	listener kafkatest.Listener
	// auth is the data of the Broker's and the KafkaChannel's Secret.
	auth map[string][]byte
	// net holds the values the KafkaSource's spec.net references.
	net netValues
	// reason is why Kafka refuses these settings; "" when it accepts them.
	reason kafkaconn.Reason

	broker, channel, source contract.Resource
	sourceTopic             string
}

func (e *endpoint) authRef() kafkaauth.Ref {
	return kafkaauth.Ref{Namespace: e.name, Name: "kafka-auth"}
}

func (e *endpoint) netRef() kafkaauth.Ref {
	return kafkaauth.Ref{Namespace: e.name, Name: "source-net"}
}

func (e *endpoint) setSecrets(s *kafkaauth.Static) {
	s.Set(e.authRef(), e.auth)
	s.Set(e.netRef(), e.net.secretData())
}

// path is the ingress path of the Broker (kind "trigger") or the KafkaChannel ("subscription").
func (e *endpoint) path(kind string) string {
	if kind == "trigger" {
		return e.broker.Ingress.Path
	}
	return e.channel.Ingress.Path
}

func (e *endpoint) topics() []string {
	return []string{e.broker.Topic, e.channel.Topic, e.sourceTopic}
}

// build makes the contract resources of e with contractbuild, from the objects and ConfigMaps
// the control plane reads.
func (e *endpoint) build(t *testing.T, k *kafkatest.Secured, sink string) {
	t.Helper()
	servers := strings.Join(k.Bootstrap(e.listener), ",")
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: e.name, Name: name, UID: types.UID(e.name + "-" + name)}
	}
	url := func(kind string) *apis.URL {
		u, err := apis.ParseURL(sink + "/" + e.name + "/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	// The Broker's ConfigMap names the Secret, which lives in the ConfigMap's namespace.
	brokerCfg, err := contractbuild.ParseBrokerConfig(map[string]string{
		contractbuild.BootstrapServersKey: servers, contractbuild.TopicPartitionsKey: "1",
		contractbuild.TopicReplicationFactorKey: "1", contractbuild.AuthSecretNameKey: e.authRef().Name,
	})
	if err != nil {
		t.Fatal(err)
	}
	names := contractbuild.DefaultNameTemplates()
	b := &eventingv1.Broker{ObjectMeta: meta("broker")}
	brokerTopic, err := names.BrokerTopic(b)
	if err != nil {
		t.Fatal(err)
	}
	e.broker = contractbuild.BrokerResource(b, brokerTopic, brokerCfg, e.name)
	tr := &eventingv1.Trigger{ObjectMeta: meta("trigger"), Spec: eventingv1.TriggerSpec{Broker: b.Name}}
	group, err := names.TriggerConsumerGroup(tr)
	if err != nil {
		t.Fatal(err)
	}
	te, err := contractbuild.TriggerEgress(tr, b, group, url("trigger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.broker.Egresses = []contract.Egress{te}

	channelCfg, err := contractbuild.ParseChannelConfig(map[string]string{
		contractbuild.BootstrapServersKey: servers, contractbuild.AuthSecretNameKey: e.authRef().Name,
		contractbuild.AuthSecretNamespaceKey: e.name,
	})
	if err != nil {
		t.Fatal(err)
	}
	kc := &messagingv1beta1.KafkaChannel{ObjectMeta: meta("channel")}
	channelTopic, err := names.ChannelTopic(kc)
	if err != nil {
		t.Fatal(err)
	}
	e.channel = contractbuild.ChannelResource(kc, channelTopic, channelCfg)
	se, err := contractbuild.SubscriberEgress(kc, eventingduckv1.SubscriberSpec{
		UID: types.UID(e.name + "-subscription"), Name: ptr.String("subscription"), SubscriberURI: url("subscription"),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.channel.Egresses = []contract.Egress{se}

	e.sourceTopic = "knkafka-secured-source-" + e.name
	ks := &sourcesv1beta1.KafkaSource{ObjectMeta: meta("source"), Spec: sourcesv1beta1.KafkaSourceSpec{
		BootstrapServers: k.Bootstrap(e.listener), Topics: []string{e.sourceTopic},
		ConsumerGroup: "knative-kafka-source-" + e.name, InitialOffset: sourcesv1beta1.OffsetEarliest,
		Net:        e.net.spec(e.netRef().Name),
		SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{URI: url("source")}},
	}}
	if e.source, err = contractbuild.SourceResource(ks, url("source"), nil); err != nil {
		t.Fatal(err)
	}
}

// is checks that each of e's resources and egresses has reason ("" for Ready) in both roles.
func (e *endpoint) is(reason kafkaconn.Reason) []dataplanetest.Check {
	return []dataplanetest.Check{
		dataplanetest.IngressIs(e.broker.UID, reason), dataplanetest.EgressIs(e.broker.Egresses[0].UID, reason),
		dataplanetest.IngressIs(e.channel.UID, reason), dataplanetest.EgressIs(e.channel.Egresses[0].UID, reason),
		dataplanetest.EgressIs(e.source.Egresses[0].UID, reason),
	}
}

// checkRefused checks that every status of e names its Secret, and that the ingress refuses
// e's Broker and KafkaChannel with 503 naming the Secret.
func (e *endpoint) checkRefused(t *testing.T, s *dataplane.Server, ingressURL string) {
	st := s.Status()
	auth, net := e.authRef().String(), e.netRef().String()
	for _, c := range []struct{ what, message, secret string }{
		{"the Broker's ingress", st.Ingresses[e.broker.UID].Message, auth},
		{"the Trigger", st.Egresses[e.broker.Egresses[0].UID].Message, auth},
		{"the KafkaChannel's ingress", st.Ingresses[e.channel.UID].Message, auth},
		{"the Subscription", st.Egresses[e.channel.Egresses[0].UID].Message, auth},
		{"the KafkaSource", st.Egresses[e.source.Egresses[0].UID].Message, net},
	} {
		if !strings.Contains(c.message, strconv.Quote(c.secret)) {
			t.Errorf("%s: message %q does not name secret %q", c.what, c.message, c.secret)
		}
	}
	for _, kind := range []string{"trigger", "subscription"} {
		code, body, err := postCloudEvent(ingressURL+e.path(kind), e.name+"-refused-"+kind)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, strconv.Quote(auth)) {
			t.Errorf("POST %s answered %d %q, want 503 naming secret %q", e.path(kind), code, body, auth)
		}
	}
}

// netValues are the values a KafkaSource's spec.net references, all from one Secret.
type netValues struct {
	mechanism, user, password string // no SASL when mechanism is empty
	tls                       bool
	ca                        []byte
	cert                      *kafkatest.Leaf
}

// The keys of the spec.net Secret: not the auth Secret's, as spec.net may name any.
const (
	netKeyUser      = "username"
	netKeyPassword  = "secret-password"
	netKeyMechanism = "mechanism"
	netKeyCA        = "trusted-ca.pem"
	netKeyCert      = "client.pem"
	netKeyKey       = "client-key.pem"
)

func (v netValues) secretData() map[string][]byte {
	data := map[string][]byte{}
	if v.mechanism != "" {
		data[netKeyUser], data[netKeyPassword], data[netKeyMechanism] = []byte(v.user), []byte(v.password), []byte(v.mechanism)
	}
	if v.ca != nil {
		data[netKeyCA] = v.ca
	}
	if v.cert != nil {
		data[netKeyCert], data[netKeyKey] = v.cert.CertPEM, v.cert.KeyPEM
	}
	return data
}

// spec is the spec.net that references secretData's keys in the Secret secret.
func (v netValues) spec(secret string) sourcesv1beta1.KafkaNetSpec {
	ref := func(key string) sourcesv1beta1.SecretValueFromSource {
		return sourcesv1beta1.SecretValueFromSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}
	}
	var n sourcesv1beta1.KafkaNetSpec
	if v.mechanism != "" {
		n.SASL = sourcesv1beta1.KafkaSASLSpec{Enable: true, User: ref(netKeyUser), Password: ref(netKeyPassword), Type: ref(netKeyMechanism)}
	}
	if v.tls {
		n.TLS.Enable = true
		if v.ca != nil {
			n.TLS.CACert = ref(netKeyCA)
		}
		if v.cert != nil {
			n.TLS.Cert, n.TLS.Key = ref(netKeyCert), ref(netKeyKey)
		}
	}
	return n
}

func contractOf(generation uint64, es ...endpoint) *contract.Contract {
	c := &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: generation}
	for _, e := range es {
		c.Resources = append(c.Resources, e.broker, e.channel, e.source)
	}
	return c
}

// deliverAll sends events, tagged with round, to the Broker and the KafkaChannel of every
// endpoint through the ingress, and records into every KafkaSource's topic through the
// PLAINTEXT listener, all side by side, and waits until each subscriber has exactly what it
// was sent for.
func deliverAll(t *testing.T, k *kafkatest.Secured, sub *recorder, ingressURL string, es []endpoint, round string) {
	t.Helper()
	const events = 5
	producer := plaintextProducer(t, k)
	var wg sync.WaitGroup
	errs := make(chan error, len(es)*3*events)
	for _, e := range es {
		for _, kind := range []string{"trigger", "subscription"} {
			wg.Go(func() {
				for n := range events {
					id := fmt.Sprintf("%s-%s-%s-%d", e.name, kind, round, n)
					code, body, err := postCloudEvent(ingressURL+e.path(kind), id)
					if err == nil && code != http.StatusAccepted {
						err = fmt.Errorf("%d %q", code, body)
					}
					if err != nil {
						errs <- fmt.Errorf("POST %s to %s: %w", id, e.path(kind), err)
					}
				}
			})
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for n := range events {
				r := &kgo.Record{Topic: e.sourceTopic, Value: []byte(fmt.Sprintf(`{"round":%q,"n":%d}`, round, n))}
				if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
					errs <- fmt.Errorf("producing to %s: %w", e.sourceTopic, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// Each source topic has one partition, written only here, so the ids its KafkaSource gives
	// the records are their offsets.
	first := 0
	if round != "first" {
		first = events
	}
	for _, e := range es {
		for _, kind := range []string{"trigger", "subscription"} {
			var want []string
			for n := range events {
				want = append(want, fmt.Sprintf("%s-%s-%s-%d", e.name, kind, round, n))
			}
			sub.waitFor(t, e.name, kind, want...)
		}
		var want []string
		for n := range events {
			want = append(want, fmt.Sprintf("partition:0/offset:%d", first+n))
		}
		sub.waitFor(t, e.name, "source", want...)
	}
}

// createTopics creates topics, one partition each, through the PLAINTEXT listener, and waits
// until they have leaders.
func createTopics(ctx context.Context, t *testing.T, servers, topics []string) {
	t.Helper()
	adm := kafkatest.Admin(t, servers)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, 1, 1, nil, topics...)
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	for _, topic := range topics {
		if err := kafkatest.WaitTopic(ctx, adm, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// plaintextProducer is a producer on k's PLAINTEXT listener, closed when t ends.
func plaintextProducer(t *testing.T, k *kafkatest.Secured) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Servers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// readyWatch samples the status until stopped and records every moment a good endpoint's
// resource or egress was not Ready.
type readyWatch struct {
	end     chan struct{}
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	seen    []string
	samples int
}

func watchReady(s *dataplane.Server, es []endpoint) *readyWatch {
	w := &readyWatch{end: make(chan struct{}), done: make(chan struct{})}
	var checks []dataplanetest.Check
	for _, e := range es {
		checks = append(checks, e.is("")...)
	}
	go func() {
		defer close(w.done)
		for {
			st := s.Status()
			w.mu.Lock()
			w.samples++
			w.mu.Unlock()
			for _, c := range checks {
				if ok, desc := c(st); !ok {
					w.mu.Lock()
					if len(w.seen) < 20 {
						w.seen = append(w.seen, time.Now().Format("15:04:05.000")+" "+desc)
					}
					w.mu.Unlock()
				}
			}
			select {
			case <-w.end:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *readyWatch) stop() {
	w.once.Do(func() { close(w.end) })
	<-w.done
}

// failures lists the moments seen (at most 20), and how many samples were taken.
func (w *readyWatch) failures() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen), w.samples
}

// recorder is the subscribers' HTTP server: it records the ids of the events POSTed to each path.
type recorder struct {
	URL string
	mu  sync.Mutex
	got map[string]map[string]int // path → id → deliveries
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{got: map[string]map[string]int{}}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		if r.got[req.URL.Path] == nil {
			r.got[req.URL.Path] = map[string]int{}
		}
		r.got[req.URL.Path][req.Header.Get("Ce-Id")]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.URL = "http://" + ln.Addr().String()
	return r
}

// ids returns the ids delivered to /<endpoint>/<kind>, sorted.
func (r *recorder) ids(endpoint, kind string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range r.got["/"+endpoint+"/"+kind] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// waitFor waits, at most securedWait, until every id arrived at /<endpoint>/<kind>.
func (r *recorder) waitFor(t *testing.T, endpoint, kind string, ids ...string) {
	t.Helper()
	path := "/" + endpoint + "/" + kind
	deadline := time.Now().Add(securedWait)
	for {
		r.mu.Lock()
		var missing []string
		for _, id := range ids {
			if r.got[path][id] == 0 {
				missing = append(missing, id)
			}
		}
		r.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not delivered to %s within %s, the first: %v", len(missing), len(ids), path, securedWait, missing[:min(5, len(missing))])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postCloudEvent POSTs a binary-mode CloudEvent with id to url.
func postCloudEvent(url, id string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"n":1}`))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/knkafka/test/secured")
	req.Header.Set("Ce-Type", "dev.knkafka.test")
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pemBody is the base64 body of a PEM block: what a leaked key would show however it is framed.
func pemBody(p []byte) string {
	var body []string
	for _, line := range strings.Split(string(p), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			body = append(body, line)
		}
	}
	return strings.Join(body, "")[:48]
}

func password(t *testing.T) string {
	t.Helper()
	pw, err := kafkatest.RandomPassword()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}
