package kafkachannel

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
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/secrettest"
	"knkafka.dev/test/kafkatest"
)

// leakValues are distinctive Secret values; none may appear in anything the reconciler writes.
var leakValues = []string{"LEAK-user-5e1d", "LEAK-password-8b2c", "LEAK-protocol-3f9a", "LEAK-mechanism-77aa"}

// TestSecretValuesNeverLeak reconciles and finalizes a KafkaChannel whose auth Secret holds
// distinctive values, with real admin clients against the test Kafka (a plaintext listener, so
// a SASL client is refused there), and greps the returned events, recorded events, the
// channel's status, the contract entries and every log line for those values.
func TestSecretValuesNeverLeak(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	cases := map[string]struct {
		data   map[string]string
		reason string
	}{
		"valid credentials the cluster refuses": {map[string]string{"protocol": "SASL_PLAINTEXT", "user": leakValues[0], "password": leakValues[1]}, "SASLAuthenticationFailed"},
		"an unknown protocol":                   {map[string]string{"protocol": leakValues[2], "user": leakValues[0], "password": leakValues[1]}, "ProtocolUnsupported"},
		"an unknown mechanism":                  {map[string]string{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": leakValues[3], "user": leakValues[0], "password": leakValues[1]}, "SASLMechanismUnsupported"},
		"the older format without a password":   {map[string]string{"username": leakValues[0], "saslType": leakValues[3], "tls.enabled": "true"}, "SecretKeyMissing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			logger := zap.New(core)
			clients := kafka.NewClients(logger.Named("kafka"))
			defer clients.Close()
			s := authSecret(func(s *corev1.Secret) {
				s.Data = map[string][]byte{}
				for k, v := range tc.data {
					s.Data[k] = []byte(v)
				}
			})
			ls := newListers([]runtime.Object{channelConfig(func(cm *corev1.ConfigMap) {
				cm.Data["bootstrap.servers"] = strings.Join(servers, ",")
			}), s})
			ctx, _ := testContext(t, ls)
			recorder := record.NewFakeRecorder(100)
			ctx = controller.WithEventRecorder(logging.WithLogger(ctx, logger.Sugar()), recorder)
			ctx, _ = fakekubeclient.With(ctx, ls.kubeObjects()...)
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			store := &fakeStore{}
			r := newReconciler(ctx, ls, &fakeKafka{}, store, &fakeDataPlane{})
			r.kafka = KafkaFrom(clients)

			kc := NewKafkaChannel(channelName, ns)
			reconciled := r.ReconcileKind(ctx, kc)
			finalized := r.FinalizeKind(ctx, NewKafkaChannel(channelName, ns, deleted))
			status, err := json.Marshal(kc.Status)
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
			if c := kc.Status.GetCondition("Ready"); c == nil || c.Reason != tc.reason {
				t.Errorf("Ready = %+v, want reason %s", c, tc.reason)
			}
			secrettest.NoLeak(t, outputs, leakValues)
		})
	}
}
