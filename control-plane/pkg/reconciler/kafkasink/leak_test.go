package kafkasink

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	. "knative.dev/pkg/reconciler/testing"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"
	"knkafka.dev/test/kafkatest"
)

// leakValues are distinctive Secret values; none may appear in anything the reconciler writes.
var leakValues = []string{"LEAK-user-91ad", "LEAK-password-0c3e", "LEAK-protocol-5b7f", "LEAK-mechanism-e2d4", "LEAK-pem-6a18"}

// leakSecrets are auth Secrets holding leakValues, valid or refused in each way ParseSecret
// refuses a value.
var leakSecrets = map[string]map[string]string{
	"valid":                {"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "user": leakValues[0], "password": leakValues[1]},
	"an unknown protocol":  {"protocol": leakValues[2], "user": leakValues[0], "password": leakValues[1]},
	"an unknown mechanism": {"protocol": "SASL_PLAINTEXT", "sasl.mechanism": leakValues[3], "user": leakValues[0], "password": leakValues[1]},
	"a missing password":   {"protocol": "SASL_SSL", "user": leakValues[0]},
	"an invalid ca.crt": {"protocol": "SASL_SSL", "user": leakValues[0], "password": leakValues[1],
		"ca.crt": "-----BEGIN CERTIFICATE-----\n" + leakValues[4] + "\n-----END CERTIFICATE-----\n"},
}

// TestSecretValuesNeverLeak reconciles and finalizes a sink that owns its topic, whose auth Secret
// holds distinctive values, with real admin clients against the test Kafka (a plaintext listener,
// so a SASL client is refused there), and greps everything the reconciler produced — returned and
// recorded events, the status, the contract entries and every log line — for those values.
func TestSecretValuesNeverLeak(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	for name, data := range leakSecrets {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			logger := zap.New(core)
			clients := kafka.NewClients(logger.Named("kafka"))
			defer clients.Close()
			recorder := record.NewFakeRecorder(100)
			ctx := logging.WithLogger(context.Background(), logger.Sugar())
			ctx = controller.WithEventRecorder(ctx, recorder)
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()

			secret := authSecret()
			secret.Data = map[string][]byte{}
			for k, v := range data {
				secret.Data[k] = []byte(v)
			}
			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			if err := indexer.Add(secret); err != nil {
				t.Fatal(err)
			}
			store := &fakeStore{}
			r := &Reconciler{
				credentials:  kafka.NewCredentials(corelisters.NewSecretLister(indexer)),
				tracker:      &FakeTracker{},
				kafka:        KafkaFrom(clients),
				contract:     store,
				dataPlane:    fakeDataPlane{},
				pollInterval: time.Second,
			}
			onKafka := func(ks *eventingv1alpha1.KafkaSink) { ks.Spec.BootstrapServers = servers }
			ks := newSink(withAuth, withOwned, onKafka)
			reconciled := r.ReconcileKind(ctx, ks)
			if reconciled == nil {
				t.Fatal("ReconcileKind succeeded; every Secret here must fail, or the test proves nothing")
			}
			finalized := r.FinalizeKind(ctx, newSink(withAuth, withOwned, onKafka, deleted))
			status, err := json.Marshal(ks.Status)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := json.Marshal(store.Set)
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
			// The test Kafka's listener is plaintext: it refuses a SASL client.
			if want := "ns/kafka-auth"; name == "valid" {
				if want = "SASLAuthenticationFailed"; !strings.Contains(outputs["status"], want) {
					t.Errorf("the status does not say %s: %s", want, outputs["status"])
				}
			} else if !strings.Contains(outputs["status"], want) {
				t.Errorf("the status does not name the Secret: %s", outputs["status"])
			}
			secrettest.NoLeak(t, outputs, leakValues)
		})
	}
}
