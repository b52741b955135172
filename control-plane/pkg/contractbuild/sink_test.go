package contractbuild_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

func sink(opts ...func(*eventingv1alpha1.KafkaSink)) *eventingv1alpha1.KafkaSink {
	ks := &eventingv1alpha1.KafkaSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "snk", UID: "sink-uid"},
		Spec:       eventingv1alpha1.KafkaSinkSpec{Topic: "orders", BootstrapServers: []string{" k1:9092", "k2:9092 ", ""}},
	}
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

func TestSinkAddress(t *testing.T) {
	if got, want := contractbuild.SinkAddress(sink(), "").String(), "http://kafka-sink-ingress.knative-eventing.svc.cluster.local/ns/snk"; got != want {
		t.Errorf("SinkAddress() = %s, want %s", got, want)
	}
	if got, want := contractbuild.SinkAddress(sink(), "127.0.0.1:8080").String(), "http://127.0.0.1:8080/ns/snk"; got != want {
		t.Errorf("SinkAddress(custom host) = %s, want %s", got, want)
	}
}

func TestSinkResource(t *testing.T) {
	structured := eventingv1alpha1.ModeStructured
	tests := []struct {
		name string
		ks   *eventingv1alpha1.KafkaSink
		want contract.Resource
	}{{
		name: "an undefaulted sink writes binary mode and has no auth",
		ks:   sink(),
		want: contract.Resource{
			UID: "sink-uid", Kind: contract.KindKafkaSink, Namespace: "ns", Name: "snk", Topic: "orders",
			BootstrapServers: []string{"k1:9092", "k2:9092"},
			Ingress:          &contract.Ingress{Path: "/ns/snk", PathHost: contractbuild.DefaultSinkIngressHost},
			ContentMode:      contract.ContentModeBinary,
		},
	}, {
		name: "structured mode and an auth Secret in the sink's namespace",
		ks: sink(func(ks *eventingv1alpha1.KafkaSink) {
			ks.Spec.ContentMode = &structured
			ks.Spec.Auth = &eventingv1alpha1.Auth{Secret: &eventingv1alpha1.Secret{Ref: &eventingv1alpha1.SecretReference{Name: "creds"}}}
		}),
		want: contract.Resource{
			UID: "sink-uid", Kind: contract.KindKafkaSink, Namespace: "ns", Name: "snk", Topic: "orders",
			BootstrapServers: []string{"k1:9092", "k2:9092"},
			Auth:             &contract.SecretRef{Namespace: "ns", Name: "creds"},
			Ingress:          &contract.Ingress{Path: "/ns/snk", PathHost: contractbuild.DefaultSinkIngressHost},
			ContentMode:      contract.ContentModeStructured,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, contractbuild.SinkResource(tt.ks, "")); diff != "" {
				t.Errorf("SinkResource() (-want +got):\n%s", diff)
			}
		})
	}
	golden(t, "sink_resource", contractbuild.SinkResource(sink(), ""))
}
