package contractbuild

import (
	"strings"

	"knative.dev/pkg/apis"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/contract"
)

// DefaultSinkIngressHost is the host of the sink ingress Service, the host of every KafkaSink
// address: Knative's Kafka sink serves its sinks there too.
const DefaultSinkIngressHost = "kafka-sink-ingress.knative-eventing.svc.cluster.local"

// SinkAddress is the URL producers send ks's events to: the sink ingress host
// (DefaultSinkIngressHost when ingressHost is empty) and the path /<namespace>/<name>.
func SinkAddress(ks *eventingv1alpha1.KafkaSink, ingressHost string) *apis.URL {
	if ingressHost == "" {
		ingressHost = DefaultSinkIngressHost
	}
	return &apis.URL{Scheme: "http", Host: ingressHost, Path: sinkPath(ks)}
}

func sinkPath(ks *eventingv1alpha1.KafkaSink) string { return "/" + ks.Namespace + "/" + ks.Name }

// SinkResource is ks's contract entry: the path /<namespace>/<name>, scoped to the sink ingress
// host (DefaultSinkIngressHost when ingressHost is empty) so that a Broker of the same namespace
// and name keeps its own path on the shared ingress, the topic, the content mode and the auth
// Secret in ks's namespace.
func SinkResource(ks *eventingv1alpha1.KafkaSink, ingressHost string) contract.Resource {
	if ingressHost == "" {
		ingressHost = DefaultSinkIngressHost
	}
	r := contract.Resource{
		UID:         string(ks.UID),
		Kind:        contract.KindKafkaSink,
		Namespace:   ks.Namespace,
		Name:        ks.Name,
		Topic:       ks.Spec.Topic,
		Ingress:     &contract.Ingress{Path: sinkPath(ks), PathHost: ingressHost},
		ContentMode: contract.ContentMode(ks.Spec.Mode()),
	}
	for _, s := range ks.Spec.BootstrapServers {
		if s = strings.TrimSpace(s); s != "" {
			r.BootstrapServers = append(r.BootstrapServers, s)
		}
	}
	if name := ks.Spec.AuthSecretName(); name != "" {
		r.Auth = &contract.SecretRef{Namespace: ks.Namespace, Name: name}
	}
	return r
}
