package contractbuild_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/kafkaconn"
)

var (
	sourceSink = apis.HTTP("sink.ns.svc.cluster.local")
	sourceDLS  = apis.HTTP("dls.ns.svc.cluster.local")
)

func kafkaSource(opts ...func(*sourcesv1beta1.KafkaSource)) *sourcesv1beta1.KafkaSource {
	ordered := sourcesv1beta1.Ordered
	ks := &sourcesv1beta1.KafkaSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders", UID: "source-uid"},
		Spec: sourcesv1beta1.KafkaSourceSpec{
			BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
			Topics:           []string{"orders", "refunds"},
			ConsumerGroup:    "orders-group",
			InitialOffset:    sourcesv1beta1.OffsetLatest,
			Consumers:        ptr.Int32(1),
			Ordering:         &ordered,
			SourceSpec:       duckv1.SourceSpec{Sink: duckv1.Destination{URI: sourceSink}},
		},
	}
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

// sourceResource is what kafkaSource() becomes with the sink and no dead-letter sink.
func sourceResource(opts ...func(*contract.Resource)) contract.Resource {
	r := contract.Resource{
		UID: "source-uid", Kind: contract.KindKafkaSource, Namespace: "ns", Name: "orders",
		Topics:           []string{"orders", "refunds"},
		BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
		Source:           &contract.Source{EventSource: "/apis/v1/namespaces/ns/kafkasources/orders", KeyType: contract.KeyString},
		Egresses: []contract.Egress{{
			UID: "source-uid", Kind: contract.KindKafkaSource, Namespace: "ns", Name: "orders",
			ConsumerGroup: "orders-group",
			Destination:   "http://sink.ns.svc.cluster.local",
			Reply:         contract.Reply{Kind: contract.ReplyDiscard},
			Delivery: contract.Delivery{
				Retry: 10, BackoffPolicy: contract.BackoffExponential,
				BackoffDelay: contract.Duration(300 * time.Millisecond), Timeout: contract.Duration(600 * time.Second),
			},
			Order:         contract.Ordered,
			InitialOffset: contract.OffsetLatest,
		}},
	}
	for _, opt := range opts {
		opt(&r)
	}
	return r
}

func TestSourceResource(t *testing.T) {
	tests := []struct {
		name       string
		ks         *sourcesv1beta1.KafkaSource
		deadLetter *apis.URL
		want       contract.Resource
	}{{
		name: "a defaulted source reads its topics into one egress that discards replies, with Knative's Kafka source delivery defaults",
		ks:   kafkaSource(),
		want: sourceResource(),
	}, {
		name: "unset ordering and initial offset are ordered and latest",
		ks:   kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.Ordering, ks.Spec.InitialOffset = nil, "" }),
		want: sourceResource(),
	}, {
		name: "spec.delivery is used as it is, without the defaults, and the dead-letter sink is set",
		ks: kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
			ks.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(2), DeadLetterSink: &duckv1.Destination{URI: sourceDLS}}
		}),
		deadLetter: sourceDLS,
		want: sourceResource(func(r *contract.Resource) {
			r.Egresses[0].Delivery = contract.Delivery{Retry: 2}
			r.Egresses[0].DeadLetter = "http://dls.ns.svc.cluster.local"
		}),
	}, {
		name: "earliest, key-ordered, an int key and ceOverrides reach the contract",
		ks: kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
			ko := sourcesv1beta1.KeyOrdered
			ks.Spec.Ordering = &ko
			ks.Spec.InitialOffset = sourcesv1beta1.OffsetEarliest
			ks.Labels = map[string]string{sourcesv1beta1.KafkaKeyTypeLabel: "int"}
			ks.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "billing"}}
		}),
		want: sourceResource(func(r *contract.Resource) {
			r.Egresses[0].Order = contract.KeyOrdered
			r.Egresses[0].InitialOffset = contract.OffsetEarliest
			r.Source.KeyType = contract.KeyInt
			r.Source.Extensions = map[string]string{"team": "billing"}
		}),
	}, {
		name: "unordered delivery",
		ks:   kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { u := sourcesv1beta1.Unordered; ks.Spec.Ordering = &u }),
		want: sourceResource(func(r *contract.Resource) { r.Egresses[0].Order = contract.Unordered }),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contractbuild.SourceResource(tt.ks, sourceSink, tt.deadLetter)
			if err != nil {
				t.Fatalf("SourceResource: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SourceResource (-want +got):\n%s", diff)
			}
			if got.Ingress != nil || got.Topic != "" {
				t.Errorf("a source has no ingress and no single topic: %+v, %q", got.Ingress, got.Topic)
			}
		})
	}
}

func TestSourceResourceRefuses(t *testing.T) {
	tests := []struct {
		name string
		ks   *sourcesv1beta1.KafkaSource
		sink *apis.URL
		want string
	}{
		{"no sink", kafkaSource(), nil, "no resolved sink"},
		{"an empty sink", kafkaSource(), &apis.URL{}, "no resolved sink"},
		{"no topics", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.Topics = nil }), sourceSink, "spec.topics"},
		{"no bootstrap servers", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.BootstrapServers = nil }), sourceSink, "spec.bootstrapServers"},
		{"no consumer group", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.ConsumerGroup = "" }), sourceSink, "spec.consumerGroup"},
		{"an unknown key type", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
			ks.Labels = map[string]string{sourcesv1beta1.KafkaKeyTypeLabel: "long"}
		}), sourceSink, `got "long"`},
		{"an unknown ordering", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
			o := sourcesv1beta1.DeliveryOrdering("random")
			ks.Spec.Ordering = &o
		}),
			sourceSink, `spec.ordering must be "ordered", "unordered" or "key-ordered", got "random"`},
		{"an unknown initial offset", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.InitialOffset = "newest" }),
			sourceSink, `spec.initialOffset must be "earliest" or "latest", got "newest"`},
		{"an invalid delivery", kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
			ks.Spec.Delivery = &eventingduckv1.DeliverySpec{BackoffDelay: ptr.String("soon")}
		}), sourceSink, "delivery.backoffDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contractbuild.SourceResource(tt.ks, tt.sink, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SourceResource = %+v, %v; want an error containing %q", got, err, tt.want)
			}
			// CheckSource finds the same problems, except the sink it is not given.
			if err := contractbuild.CheckSource(tt.ks); tt.sink.IsEmpty() != (err == nil) {
				t.Errorf("CheckSource = %v; want an error exactly when the spec itself is wrong", err)
			}
		})
	}
	if err := contractbuild.CheckSource(kafkaSource()); err != nil {
		t.Errorf("CheckSource(a valid source) = %v, want nil", err)
	}
}

// keyRef references key of Secret secret, as a KafkaSource's spec.net does.
func keyRef(secret, key string) sourcesv1beta1.SecretValueFromSource {
	return sourcesv1beta1.SecretValueFromSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}
}

// withNet enables SASL_SSL with SCRAM credentials in one Secret and the CA in another.
func withNet(ks *sourcesv1beta1.KafkaSource) {
	ks.Spec.Net.SASL = sourcesv1beta1.KafkaSASLSpec{
		Enable: true, User: keyRef("kafka-user", "user"), Password: keyRef("kafka-user", "password"), Type: keyRef("kafka-user", "mechanism"),
	}
	ks.Spec.Net.TLS = sourcesv1beta1.KafkaTLSSpec{Enable: true, CACert: keyRef("kafka-ca", "ca.crt")}
}

// TestSourceNet: a secured source is consumed (no longer refused) and its entry carries spec.net
// as references only; a source without spec.net has none.
func TestSourceNet(t *testing.T) {
	got, err := contractbuild.SourceResource(kafkaSource(withNet), sourceSink, nil)
	if err != nil {
		t.Fatalf("SourceResource of a SASL_SSL source = %v, want it accepted", err)
	}
	want := &kafkaconn.Net{
		SASL: kafkaconn.NetSASL{
			Enable:   true,
			User:     kafkaconn.KeyRef{Secret: "kafka-user", Key: "user"},
			Password: kafkaconn.KeyRef{Secret: "kafka-user", Key: "password"},
			Type:     kafkaconn.KeyRef{Secret: "kafka-user", Key: "mechanism"},
		},
		TLS: kafkaconn.NetTLS{Enable: true, CACert: kafkaconn.KeyRef{Secret: "kafka-ca", Key: "ca.crt"}},
	}
	if diff := cmp.Diff(want, got.Net); diff != "" {
		t.Errorf("Resource.Net (-want +got):\n%s", diff)
	}
	if err := contractbuild.CheckSource(kafkaSource(withNet)); err != nil {
		t.Errorf("CheckSource(a SASL_SSL source) = %v, want nil", err)
	}
	if n := contractbuild.SourceNet(kafkaSource()); n != nil {
		t.Errorf("SourceNet(no spec.net) = %+v, want nil", n)
	}
	// A reference in a part that is not enabled is kept: the data plane checks it as the
	// incumbent does. A reference without a Secret name references nothing.
	n := contractbuild.SourceNet(kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
		ks.Spec.Net.TLS.CACert = keyRef("kafka-ca", "ca.crt")
		ks.Spec.Net.SASL.User = keyRef("", "user")
	}))
	if diff := cmp.Diff(&kafkaconn.Net{TLS: kafkaconn.NetTLS{CACert: kafkaconn.KeyRef{Secret: "kafka-ca", Key: "ca.crt"}}}, n); diff != "" {
		t.Errorf("SourceNet of a disabled part (-want +got):\n%s", diff)
	}
}

func TestSourceResourceNetGolden(t *testing.T) {
	got, err := contractbuild.SourceResource(kafkaSource(withNet), sourceSink, nil)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "source_resource_net", got)
}

// TestSourceResourceDoesNotAliasTheSpec: the contract store keeps the resource, so it must not
// share slices or maps with an object the informer cache owns.
func TestSourceResourceDoesNotAliasTheSpec(t *testing.T) {
	ks := kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
		ks.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"a": "b"}}
	})
	got, err := contractbuild.SourceResource(ks, sourceSink, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks.Spec.Topics[0], ks.Spec.BootstrapServers[0] = "changed", "changed"
	ks.Spec.CloudEventOverrides.Extensions["a"] = "changed"
	if got.Topics[0] != "orders" || got.BootstrapServers[0] != "kafka-1:9092" || got.Source.Extensions["a"] != "b" {
		t.Errorf("the resource changed with the spec: %+v", got)
	}
}

func TestSourceResourceGolden(t *testing.T) {
	got, err := contractbuild.SourceResource(kafkaSource(func(ks *sourcesv1beta1.KafkaSource) {
		ks.Labels = map[string]string{sourcesv1beta1.KafkaKeyTypeLabel: "byte-array"}
		ks.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "billing"}}
	}), sourceSink, sourceDLS)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "source_resource", got)
}
