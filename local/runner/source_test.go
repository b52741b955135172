package runner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
)

const kafkaSource = `
apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: orders, namespace: default}
spec:
  bootstrapServers: ["x:1"]
  topics: [notifications, loggings]
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`

// findResource returns the contract resource of uid.
func findResource(t *testing.T, p *Plan, uid string) contract.Resource {
	t.Helper()
	for _, r := range p.Contract.Resources {
		if r.UID == uid {
			return r
		}
	}
	t.Fatalf("no contract resource %s in %+v", uid, p.Contract.Resources)
	return contract.Resource{}
}

func objectOf(t *testing.T, p *Plan, kind, name string) Object {
	t.Helper()
	for _, o := range p.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s in %+v", kind, name, p.Objects)
	return Object{}
}

// A KafkaSource whose sink.ref names a Broker of the folder delivers to the Broker's address,
// as flow B runs it; the v1 apiVersion is read like v1beta1, and the consumer group survives
// restarts (it derives from the stable UID).
func TestSourceSinkRefResolvesToTheFolderBroker(t *testing.T) {
	for _, apiVersion := range []string{"sources.knative.dev/v1beta1", "sources.knative.dev/v1"} {
		t.Run(apiVersion, func(t *testing.T) {
			doc := "apiVersion: " + apiVersion + kafkaSource[len("\napiVersion: sources.knative.dev/v1beta1"):]
			set := load(t, brokerConfig, broker, doc)
			p := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"y:2"}})
			o := objectOf(t, p, contract.KindKafkaSource, "orders")
			if o.Problem != nil {
				t.Fatalf("source problem: %+v", o.Problem)
			}
			res := findResource(t, p, o.UID)
			if diff := cmp.Diff([]string{"notifications", "loggings"}, res.Topics); diff != "" {
				t.Errorf("topics (-want +got):\n%s", diff)
			}
			if len(res.Egresses) != 1 {
				t.Fatalf("egresses %+v, want exactly one", res.Egresses)
			}
			eg := res.Egresses[0]
			if eg.Destination != "http://127.0.0.1:8080/default/default" {
				t.Errorf("destination %q, want the folder broker's address", eg.Destination)
			}
			if want := "knative-kafka-source-" + o.UID; eg.ConsumerGroup != want {
				t.Errorf("consumer group %q, want %q (stable across restarts)", eg.ConsumerGroup, want)
			}
			if res.Source == nil || res.Source.EventSource != "/apis/v1/namespaces/default/kafkasources/orders" {
				t.Errorf("source spec %+v, want the kafkasources event source", res.Source)
			}
			// Its servers are not the embedded Kafka's: its topics are not ours to create.
			for _, topic := range p.Topics {
				if topic.Owner == o.UID {
					t.Errorf("planned topic %+v for a source on a Kafka of its own", topic)
				}
			}
		})
	}
}

func TestSourceOnTheEmbeddedKafkaGetsItsTopics(t *testing.T) {
	set := load(t, brokerConfig, broker, kafkaSource)
	p := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"x:1"}})
	uid := objectOf(t, p, contract.KindKafkaSource, "orders").UID
	var got []kafka.TopicSpec
	for _, topic := range p.Topics {
		if topic.Owner == uid {
			got = append(got, topic.Spec)
		}
	}
	want := []kafka.TopicSpec{{Name: "notifications", Partitions: 1, ReplicationFactor: 1}, {Name: "loggings", Partitions: 1, ReplicationFactor: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("topics of a source on the embedded Kafka (-want +got):\n%s", diff)
	}
}

// Refs resolve within the folder: a KafkaChannel, a Broker plus a uri path (resolved against its
// address, as Knative does), and clear reasons for what cannot be resolved.
func TestDestinationRefs(t *testing.T) {
	const triggerToChannel = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-channel, namespace: default}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: events}
    uri: /sub/path
`
	const triggerToService = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-service, namespace: default}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: v1, kind: Service, name: display}
`
	const sourceToMissing = `
apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: lost, namespace: default}
spec:
  bootstrapServers: ["x:1"]
  topics: [t]
  sink:
    ref: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: nowhere}
`
	set := load(t, brokerConfig, broker, channel, triggerToChannel, triggerToService, sourceToMissing)
	p := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"x:1"}})

	o := objectOf(t, p, contract.KindTrigger, "to-channel")
	if o.Problem != nil {
		t.Fatalf("trigger to the channel: %+v", o.Problem)
	}
	for _, eg := range findResource(t, p, o.Parent).Egresses {
		if eg.UID == o.UID && eg.Destination != "http://127.0.0.1:8080/sub/path" {
			t.Errorf("destination %q, want the uri resolved against the channel's address", eg.Destination)
		}
	}
	if p := objectOf(t, p, contract.KindTrigger, "to-service").Problem; p == nil || p.Reason != ReasonRefNotSupported {
		t.Errorf("trigger to a Service: problem %+v, want %s", p, ReasonRefNotSupported)
	}
	if p := objectOf(t, p, contract.KindKafkaSource, "lost").Problem; p == nil || p.Reason != ReasonRefNotFound {
		t.Errorf("source to a missing channel: problem %+v, want %s", p, ReasonRefNotFound)
	}
}

// Knative's config-br-defaults gives a Broker without spec.delivery its delivery, as Knative's
// webhook does on a cluster, so the Broker's Triggers retry by it; a Broker's own delivery wins.
func TestBrokerDeliveryDefaultsFromConfigBrDefaults(t *testing.T) {
	const defaults = `
apiVersion: v1
kind: ConfigMap
metadata: {name: config-br-defaults, namespace: knative-eventing}
data:
  default-br-config: |
    clusterDefault:
      brokerClass: Kafka
      apiVersion: v1
      kind: ConfigMap
      name: kafka-broker-config
      namespace: knative-eventing
      delivery:
        retry: 7
        backoffPolicy: exponential
        backoffDelay: PT0.5S
`
	const ownDelivery = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: own, namespace: default}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config, namespace: knative-eventing}
  delivery: {retry: 2}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: on-own, namespace: default}
spec:
  broker: own
  subscriber: {uri: "http://127.0.0.1:8081"}
`
	retries := func(p *Plan) map[string]int32 {
		out := map[string]int32{}
		for _, r := range p.Contract.Resources {
			for _, eg := range r.Egresses {
				out[eg.Name] = eg.Delivery.Retry
			}
		}
		return out
	}
	p := Build(load(t, brokerConfig, broker, trigger, ownDelivery, defaults), Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"x:1"}})
	if diff := cmp.Diff(map[string]int32{"orders": 7, "on-own": 2}, retries(p)); diff != "" {
		t.Errorf("trigger retries (-want +got):\n%s", diff)
	}
	p = Build(load(t, brokerConfig, broker, trigger), Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"x:1"}})
	if diff := cmp.Diff(map[string]int32{"orders": 0}, retries(p)); diff != "" {
		t.Errorf("without config-br-defaults, trigger retries (-want +got):\n%s", diff)
	}
}
