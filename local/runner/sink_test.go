package runner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
)

const (
	ownedSink = `
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata: {name: orders, namespace: shop}
spec:
  topic: orders
  bootstrapServers: ["k:9092"]
  numPartitions: 4
  replicationFactor: 1
  contentMode: structured
`
	externalSink = `
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata: {name: audit, namespace: shop}
spec:
  topic: audit
  bootstrapServers: ["k:9092"]
`
	triggerToSink = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: archive, namespace: default}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: KafkaSink, name: orders, namespace: shop}
`
)

// TestSinksAreBuiltAsTheReconcilerBuildsThem: a KafkaSink of the folder gets the contract entry
// the reconciler gives it, addressed on the local ingress; only the sink that owns its topic has
// it created; a Trigger may deliver to a sink of the folder by ref.
func TestSinksAreBuiltAsTheReconcilerBuildsThem(t *testing.T) {
	set := load(t, brokerConfig, broker, triggerToSink, ownedSink, externalSink)
	plan := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"embedded:1"}})
	ordersUID := uidOf(t, set, contract.KindKafkaSink, "orders")

	var orders *contract.Resource
	for i := range plan.Contract.Resources {
		if r := &plan.Contract.Resources[i]; r.UID == ordersUID {
			orders = r
		}
	}
	want := contract.Resource{
		UID: ordersUID, Kind: contract.KindKafkaSink, Namespace: "shop", Name: "orders", Topic: "orders",
		BootstrapServers: []string{"k:9092"}, ContentMode: contract.ContentModeStructured,
		Ingress: &contract.Ingress{Path: "/shop/orders", PathHost: "127.0.0.1:8080"},
	}
	if orders == nil {
		t.Fatalf("no contract entry for the sink: %+v", plan.Contract.Resources)
	}
	if diff := cmp.Diff(want, *orders); diff != "" {
		t.Errorf("the sink's entry (-want +got):\n%s", diff)
	}

	var sinkTopics []Topic
	for _, topic := range plan.Topics {
		if topic.Spec.Name == "orders" || topic.Spec.Name == "audit" {
			sinkTopics = append(sinkTopics, topic)
		}
	}
	if diff := cmp.Diff([]Topic{{Owner: ordersUID, Servers: []string{"k:9092"}, Spec: kafka.TopicSpec{Name: "orders", Partitions: 4, ReplicationFactor: 1}}}, sinkTopics); diff != "" {
		t.Errorf("the sinks' topics to create (-want +got):\n%s", diff)
	}

	addresses := map[string]string{}
	for _, o := range plan.Objects {
		if o.Problem != nil {
			t.Errorf("%s %s/%s has a problem: %+v", o.Kind, o.Namespace, o.Name, o.Problem)
		}
		addresses[o.Kind+" "+o.Name] = o.Address
	}
	if got := addresses["KafkaSink orders"]; got != "http://127.0.0.1:8080/shop/orders" {
		t.Errorf("the sink's address = %q", got)
	}
	destination := ""
	for _, r := range plan.Contract.Resources {
		for _, e := range r.Egresses {
			if e.Name == "archive" {
				destination = e.Destination
			}
		}
	}
	if destination != "http://127.0.0.1:8080/shop/orders" {
		t.Errorf("the Trigger's destination = %q, want the sink's address", destination)
	}
}

func TestAnExternalSinkTopicIsCreatedOnlyInTheEmbeddedKafka(t *testing.T) {
	set := load(t, externalSink)
	plan := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"k:9092"}})
	if len(plan.Topics) != 1 || plan.Topics[0].Spec.Name != "audit" || plan.Topics[0].Spec.Partitions != 1 {
		t.Errorf("topics = %+v, want audit with one partition in the embedded Kafka", plan.Topics)
	}
}
