package kafkasource

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/resolver"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"
	"knkafka.dev/test/kafkatest"
)

// leakValues are distinctive Secret values; none may appear in anything the reconciler writes.
var leakValues = []string{"LEAK-user-5e1d", "LEAK-password-8b2c", "LEAK-mechanism-77aa", "LEAK-pem-42bd"}

// TestSecretValuesNeverLeak reconciles KafkaSources whose spec.net Secrets hold distinctive
// values, with real admin clients against the test Kafka (a plaintext listener, so a SASL client
// is refused there), and greps the returned event, recorded events, the source's status, the
// contract entries and every log line (the reconciler's and franz-go's) for those values.
func TestSecretValuesNeverLeak(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	sasl := func(ks *sourcesv1beta1.KafkaSource) {
		withNet(ks)
		ks.Spec.Net.TLS.Enable = false
		ks.Spec.BootstrapServers = servers
	}
	tls := func(ks *sourcesv1beta1.KafkaSource) {
		withNet(ks)
		ks.Spec.BootstrapServers = servers
	}
	cases := []struct {
		name    string
		source  func(*sourcesv1beta1.KafkaSource)
		secrets []*corev1.Secret
		reason  string
	}{
		{"valid credentials the cluster refuses", sasl, []*corev1.Secret{leakUser(nil), caSecret()}, "SASLAuthenticationFailed"},
		{"an unknown mechanism", sasl, []*corev1.Secret{leakUser(map[string]string{"mechanism": leakValues[2]}), caSecret()}, "SASLMechanismUnsupported"},
		{"a missing password", sasl, []*corev1.Secret{leakUser(map[string]string{"password": ""}), caSecret()}, "SecretKeyMissing"},
		{"an invalid CA", tls, []*corev1.Secret{leakUser(nil), leakCA()}, "CertificateInvalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			logger := zap.New(core)
			clients := kafka.NewClients(logger.Named("kafka"))
			defer clients.Close()
			recorder := record.NewFakeRecorder(100)
			ctx := logging.WithLogger(context.Background(), logger.Sugar())
			ctx = controller.WithEventRecorder(ctx, recorder)
			scheme := runtime.NewScheme()
			if err := kubescheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			dynamic := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{knServing: "ServiceList"})
			ctx = addressable.WithDuck(context.WithValue(ctx, dynamicclient.Key{}, dynamic))
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()

			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			for _, s := range tc.secrets {
				if err := indexer.Add(s); err != nil {
					t.Fatal(err)
				}
			}
			store := &fakeStore{}
			r := &Reconciler{
				credentials:  kafka.NewCredentials(corelisters.NewSecretLister(indexer)),
				tracker:      &FakeTracker{},
				kafka:        KafkaFrom(clients),
				contract:     store,
				dataPlane:    fakeDataPlane{},
				resolver:     resolver.NewURIResolverFromTracker(ctx, &FakeTracker{}),
				pollInterval: time.Second,
			}
			ks := newSource(tc.source)
			reconciled := r.ReconcileKind(ctx, ks)
			finalized := r.FinalizeKind(ctx, newSource(tc.source, deleted))
			status, err := json.Marshal(ks.Status)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := json.Marshal(store.Resources)
			if err != nil {
				t.Fatal(err)
			}
			outputs := map[string]string{
				"reconcile event": fmt.Sprint(reconciled),
				"finalize event":  fmt.Sprint(finalized),
				"status":          string(status),
				"contract":        string(entries),
				"recorded events": secrettest.Events(recorder),
				"logs":            secrettest.Logs(logs),
			}
			if c := ks.Status.GetCondition(sourcesv1beta1.KafkaSourceConditionReady); c == nil || c.Reason != tc.reason {
				t.Errorf("Ready = %+v, want reason %s", c, tc.reason)
			}
			if !strings.Contains(outputs["contract"], `"secret":"kafka-user"`) {
				t.Errorf("the contract entry lacks the Secret references: %s", outputs["contract"])
			}
			secrettest.NoLeak(t, outputs, leakValues)
		})
	}
}

// leakUser is userSecret with leakValues as user and password, then with set applied ("" deletes).
func leakUser(set map[string]string) *corev1.Secret {
	return userSecret(func(s *corev1.Secret) {
		s.Data["user"], s.Data["password"] = []byte(leakValues[0]), []byte(leakValues[1])
		for k, v := range set {
			if v == "" {
				delete(s.Data, k)
			} else {
				s.Data[k] = []byte(v)
			}
		}
	})
}

// leakCA is caSecret with a certificate block that holds a distinctive value, not a certificate.
func leakCA() *corev1.Secret {
	s := caSecret()
	s.Data["ca.crt"] = []byte("-----BEGIN CERTIFICATE-----\n" + leakValues[3] + "\n-----END CERTIFICATE-----\n")
	return s
}
