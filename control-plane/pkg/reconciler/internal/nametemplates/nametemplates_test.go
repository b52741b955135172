package nametemplates

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	reconcilertesting "knative.dev/eventing/pkg/reconciler/testing/v1"
)

func TestGet(t *testing.T) {
	broker := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}
	features := func(data map[string]string) runtime.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "system", Name: "config-kafka-features"}, Data: data}
	}
	tests := []struct {
		name      string
		objects   []runtime.Object
		wantTopic string
		wantErr   string
	}{{
		name:      "no ConfigMap gives the defaults",
		wantTopic: "knative-broker-ns-default",
	}, {
		name:      "a ConfigMap in another namespace is not read",
		objects:   []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "config-kafka-features"}, Data: map[string]string{"brokers-topic-template": "x"}}},
		wantTopic: "knative-broker-ns-default",
	}, {
		name:      "the ConfigMap's template names the topic",
		objects:   []runtime.Object{features(map[string]string{"brokers-topic-template": "b.{{ .Namespace }}.{{ .Name }}"})},
		wantTopic: "b.ns.default",
	}, {
		name:    "a template that does not parse is an error naming the ConfigMap and the key",
		objects: []runtime.Object{features(map[string]string{"brokers-topic-template": "{{ .Name"})},
		wantErr: "ConfigMap system/config-kafka-features: brokers-topic-template:",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listers := reconcilertesting.NewListers(tt.objects)
			names, err := Get(listers.GetConfigMapLister(), "system")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if topic, err := names.BrokerTopic(broker); err != nil || topic != tt.wantTopic {
				t.Errorf("BrokerTopic = %q, %v; want %q", topic, err, tt.wantTopic)
			}
		})
	}
}

func TestSystemNamespace(t *testing.T) {
	t.Setenv("SYSTEM_NAMESPACE", "")
	if got := SystemNamespace(); got != "knative-eventing" {
		t.Errorf("SystemNamespace() without SYSTEM_NAMESPACE = %q, want knative-eventing", got)
	}
	t.Setenv("SYSTEM_NAMESPACE", "eventing-system")
	if got := SystemNamespace(); got != "eventing-system" {
		t.Errorf("SystemNamespace() = %q, want eventing-system", got)
	}
}
