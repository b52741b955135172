package broker

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
	"k8s.io/client-go/tools/record"
	reconcilertesting "knative.dev/eventing/pkg/reconciler/testing/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	. "knative.dev/pkg/reconciler/testing"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"
	"knkafka.dev/test/kafkatest"
)

// leakValues are distinctive Secret values; none may appear in anything the reconciler writes.
var leakValues = []string{"LEAK-user-5e1d", "LEAK-password-8b2c", "LEAK-protocol-3f9a", "LEAK-mechanism-77aa", "LEAK-skip-1c0e", "LEAK-pem-42bd"}

// leakSecrets are auth Secrets holding leakValues, valid or refused in each way ParseSecret
// refuses a value.
var leakSecrets = map[string]map[string]string{
	"valid":                {"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "user": leakValues[0], "password": leakValues[1]},
	"an unknown protocol":  {"protocol": leakValues[2], "user": leakValues[0], "password": leakValues[1]},
	"an unknown mechanism": {"protocol": "SASL_PLAINTEXT", "sasl.mechanism": leakValues[3], "user": leakValues[0], "password": leakValues[1]},
	"an invalid user.skip": {"protocol": "SSL", "user.skip": leakValues[4]},
	"a missing password":   {"protocol": "SASL_SSL", "user": leakValues[0]},
	"an invalid ca.crt": {"protocol": "SASL_SSL", "user": leakValues[0], "password": leakValues[1],
		"ca.crt": "-----BEGIN CERTIFICATE-----\n" + leakValues[5] + "\n-----END CERTIFICATE-----\n"},
}

// TestSecretValuesNeverLeak reconciles and finalizes a Broker whose auth Secret holds distinctive
// values, with real admin clients against the test Kafka (a plaintext listener, so a SASL client
// is refused there), and greps everything the reconciler produced — the returned events,
// recorded events, the Broker's status, the contract entries and every log line (the
// reconciler's and franz-go's) — for those values.
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

			s := authSecret(func(s *corev1.Secret) {
				s.Data = map[string][]byte{}
				for k, v := range data {
					s.Data[k] = []byte(v)
				}
			})
			cm := brokerConfig(func(cm *corev1.ConfigMap) { cm.Data["bootstrap.servers"] = strings.Join(servers, ",") })
			listers := reconcilertesting.NewListers([]runtime.Object{cm, s})
			store := &fakeStore{}
			r := &Reconciler{
				configMaps:   listers.GetConfigMapLister(),
				triggers:     listers.GetTriggerLister(),
				credentials:  kafka.NewCredentials(listers.GetSecretLister()),
				kafka:        KafkaFrom(clients),
				contract:     store,
				dataPlane:    fakeDataPlane{},
				tracker:      &FakeTracker{},
				pollInterval: time.Second,
			}
			b := newBroker()
			reconciled := r.ReconcileKind(ctx, b)
			if reconciled == nil {
				t.Fatal("ReconcileKind succeeded; every Secret here must fail, or the test proves nothing")
			}
			finalized := r.FinalizeKind(ctx, newBroker(deleted))
			status, err := json.Marshal(b.Status)
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
			if want := "kafka-auth"; name == "valid" {
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
