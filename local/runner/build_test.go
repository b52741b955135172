package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/local/resources"
)

const (
	brokerConfig = `
apiVersion: v1
kind: ConfigMap
metadata: {name: kafka-broker-config, namespace: knative-eventing}
data:
  default.topic.partitions: "3"
  default.topic.replication.factor: "2"
  default.topic.config.retention.ms: "60000"
`
	broker = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: default}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config, namespace: knative-eventing}
`
	trigger = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders, namespace: default}
spec:
  broker: default
  filter: {attributes: {type: order}}
  subscriber: {uri: "http://127.0.0.1:8081"}
`
	channel = `
apiVersion: messaging.knative.dev/v1beta1
kind: KafkaChannel
metadata: {name: events, namespace: default}
spec:
  numPartitions: 2
  retentionDuration: PT1H
`
	channel2 = `
apiVersion: messaging.knative.dev/v1beta1
kind: KafkaChannel
metadata: {name: plain, namespace: default}
spec:
  numPartitions: 1
`
	subscription = `
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: audit, namespace: default}
spec:
  channel: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: events}
  subscriber: {uri: "http://127.0.0.1:8082"}
`
)

// load reads docs as one resources folder.
func load(t *testing.T, docs ...string) *resources.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := resources.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func uidOf(t *testing.T, set *resources.Set, kind, name string) string {
	t.Helper()
	for _, o := range Build(set, Options{DefaultServers: []string{"x:1"}}).Objects {
		if o.Kind == kind && o.Name == name {
			return o.UID
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return ""
}

func TestBuildContract(t *testing.T) {
	set := load(t, brokerConfig, broker, trigger, channel, subscription)
	brokerUID, triggerUID := uidOf(t, set, "Broker", "default"), uidOf(t, set, "Trigger", "orders")
	channelUID, subUID := uidOf(t, set, "KafkaChannel", "events"), uidOf(t, set, "Subscription", "audit")
	plan := Build(set, Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"127.0.0.1:9092"}})

	want := []contract.Resource{{
		UID: brokerUID, Kind: "Broker", Namespace: "default", Name: "default",
		Topic: "knative-broker-default-default", BootstrapServers: []string{"127.0.0.1:9092"},
		Ingress: &contract.Ingress{Path: "/default/default"},
		Egresses: []contract.Egress{{
			UID: triggerUID, Kind: "Trigger", Namespace: "default", Name: "orders",
			ConsumerGroup: "knative-trigger-default-orders", Destination: "http://127.0.0.1:8081",
			Reply: contract.Reply{Kind: contract.ReplyTopic}, Order: contract.Unordered,
			Filter: &contract.Filter{Attributes: map[string]string{"type": "order"}},
		}},
	}, {
		UID: channelUID, Kind: "KafkaChannel", Namespace: "default", Name: "events",
		Topic: "knative-messaging-kafka.default.events", BootstrapServers: []string{"127.0.0.1:9092"},
		Ingress: &contract.Ingress{Path: "/default/events", Host: "events-kn-channel.default.svc.cluster.local"},
		Egresses: []contract.Egress{{
			UID: subUID, Kind: "Subscription", Namespace: "default", Name: "audit",
			ConsumerGroup: "kafka.default.events." + subUID, Destination: "http://127.0.0.1:8082",
			Reply: contract.Reply{Kind: contract.ReplyDiscard}, Order: contract.Ordered,
		}},
	}}
	if want[0].UID > want[1].UID {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, plan.Contract.Resources); diff != "" {
		t.Errorf("contract resources (-want +got):\n%s", diff)
	}
	if plan.Contract.SchemaVersion != contract.SchemaVersion || plan.Contract.Generation != 0 {
		t.Errorf("schema %d generation %d, want %d and 0 (the runner numbers generations)", plan.Contract.SchemaVersion, plan.Contract.Generation, contract.SchemaVersion)
	}

	retention, hour := "60000", "3600000"
	wantTopics := []Topic{
		{Owner: brokerUID, Servers: []string{"127.0.0.1:9092"}, Spec: kafka.TopicSpec{Name: "knative-broker-default-default", Partitions: 3, ReplicationFactor: 2, Config: map[string]*string{"retention.ms": &retention}}},
		{Owner: channelUID, Servers: []string{"127.0.0.1:9092"}, Spec: kafka.TopicSpec{Name: "knative-messaging-kafka.default.events", Partitions: 2, ReplicationFactor: 1, Config: map[string]*string{"retention.ms": &hour}}},
	}
	if diff := cmp.Diff(wantTopics, plan.Topics); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}

	wantObjects := []Object{
		{Kind: "Broker", Namespace: "default", Name: "default", UID: brokerUID, Address: "http://127.0.0.1:8080/default/default"},
		{Kind: "Trigger", Namespace: "default", Name: "orders", UID: triggerUID, Parent: brokerUID},
		{Kind: "KafkaChannel", Namespace: "default", Name: "events", UID: channelUID, Address: "http://127.0.0.1:8080/default/events"},
		{Kind: "Subscription", Namespace: "default", Name: "audit", UID: subUID, Parent: channelUID},
	}
	if diff := cmp.Diff(wantObjects, plan.Objects); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if plan.NeedsDefaultServers {
		t.Error("NeedsDefaultServers with default servers given")
	}
}

// row is what a table case checks of one object.
type row struct {
	kind, name, reason string
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		opts Options
		// want lists every object with its problem reason ("" for none).
		want []row
		// check looks at the rest of the plan.
		check func(t *testing.T, p *Plan)
	}{{
		name: "a broker without its ConfigMap gets one partition and one replica on the default servers",
		docs: []string{broker},
		opts: Options{DefaultServers: []string{"127.0.0.1:1"}},
		want: []row{{"Broker", "default", ""}},
		check: func(t *testing.T, p *Plan) {
			got := p.Topics[0]
			if got.Spec.Partitions != 1 || got.Spec.ReplicationFactor != 1 || !cmp.Equal(got.Servers, []string{"127.0.0.1:1"}) {
				t.Errorf("topic %+v, want 1 partition, 1 replica on 127.0.0.1:1", got)
			}
		},
	}, {
		name: "the --bootstrap-servers override the ConfigMap's",
		docs: []string{broker, strings.Replace(brokerConfig, "\ndata:", "\ndata:\n  bootstrap.servers: cm:9092", 1)},
		opts: Options{BootstrapServers: []string{"flag:9092"}, DefaultServers: []string{"embedded:1"}},
		want: []row{{"Broker", "default", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].BootstrapServers; !cmp.Equal(got, []string{"flag:9092"}) {
				t.Errorf("servers %v, want the flag's", got)
			}
		},
	}, {
		name: "a ConfigMap's servers win over the embedded Kafka",
		docs: []string{broker, strings.Replace(brokerConfig, "\ndata:", "\ndata:\n  bootstrap.servers: cm:9092", 1)},
		want: []row{{"Broker", "default", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].BootstrapServers; !cmp.Equal(got, []string{"cm:9092"}) || p.NeedsDefaultServers {
				t.Errorf("servers %v (needs defaults %v), want the ConfigMap's", got, p.NeedsDefaultServers)
			}
		},
	}, {
		name: "no servers anywhere asks for the embedded Kafka",
		docs: []string{broker, trigger, channel, subscription},
		want: []row{{"Broker", "default", ReasonNoKafka}, {"Trigger", "orders", ReasonBrokerNotReady}, {"KafkaChannel", "events", ReasonNoKafka}, {"Subscription", "audit", ReasonChannelNotReady}},
		check: func(t *testing.T, p *Plan) {
			if !p.NeedsDefaultServers || len(p.Contract.Resources) != 0 || len(p.Topics) != 0 {
				t.Errorf("needs defaults %v, %d resources, %d topics; want true, 0, 0", p.NeedsDefaultServers, len(p.Contract.Resources), len(p.Topics))
			}
		},
	}, {
		name: "a config without partitions is invalid, as on a cluster",
		docs: []string{broker, strings.Replace(brokerConfig, `default.topic.partitions: "3"`, "", 1), trigger},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ReasonConfigInvalid}, {"Trigger", "orders", ReasonBrokerNotReady}},
	}, {
		name: "a config with credentials references its Secret, which the data plane reads from the folder",
		docs: []string{broker, strings.Replace(brokerConfig, "\ndata:", "\ndata:\n  auth.secret.ref.name: kafka-auth", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}},
		check: func(t *testing.T, p *Plan) {
			want := &contract.SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"}
			if len(p.Contract.Resources) != 1 || !cmp.Equal(p.Contract.Resources[0].Auth, want) {
				t.Errorf("resources %+v, want one with Auth %+v", p.Contract.Resources, want)
			}
		},
	}, {
		name: "a broker of another class is not served",
		docs: []string{strings.Replace(broker, "metadata: {name: default, namespace: default}",
			"metadata: {name: default, namespace: default, annotations: {eventing.knative.dev/broker.class: MTChannelBasedBroker}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ReasonBrokerClass}},
	}, {
		name: "an external topic is used but not created",
		docs: []string{strings.Replace(broker, "metadata: {name: default, namespace: default}",
			"metadata: {name: default, namespace: default, annotations: {kafka.eventing.knative.dev/external.topic: existing}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}},
		check: func(t *testing.T, p *Plan) {
			if len(p.Topics) != 0 || p.Contract.Resources[0].Topic != "existing" {
				t.Errorf("topics %+v, resource topic %q; want none and existing", p.Topics, p.Contract.Resources[0].Topic)
			}
		},
	}, {
		name: "a trigger without its broker is not served",
		docs: []string{trigger},
		want: []row{{"Trigger", "orders", ReasonBrokerNotFound}},
	}, {
		name: "a trigger whose subscriber is a ref is not supported, the broker still is",
		docs: []string{broker, strings.Replace(trigger, `subscriber: {uri: "http://127.0.0.1:8081"}`,
			"subscriber: {ref: {apiVersion: v1, kind: Service, name: display}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ReasonRefNotSupported}},
		check: func(t *testing.T, p *Plan) {
			if n := len(p.Contract.Resources[0].Egresses); n != 0 {
				t.Errorf("%d egresses, want none", n)
			}
		},
	}, {
		name: "the trigger's dead-letter sink and delivery win over the broker's",
		docs: []string{
			strings.Replace(broker, "spec:", "spec:\n  delivery: {retry: 5, backoffDelay: PT1S, deadLetterSink: {uri: \"http://broker-dls\"}}", 1),
			strings.Replace(trigger, "spec:", "spec:\n  delivery: {retry: 2, deadLetterSink: {uri: \"http://trigger-dls\"}}", 1),
		},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ""}},
		check: func(t *testing.T, p *Plan) {
			eg := p.Contract.Resources[0].Egresses[0]
			want := contract.Delivery{Retry: 2, BackoffDelay: contract.Duration(time.Second)}
			if eg.DeadLetter != "http://trigger-dls" || !cmp.Equal(eg.Delivery, want) {
				t.Errorf("dead letter %q delivery %+v, want http://trigger-dls and %+v", eg.DeadLetter, eg.Delivery, want)
			}
		},
	}, {
		name: "a trigger without its own dead-letter sink uses the broker's",
		docs: []string{strings.Replace(broker, "spec:", "spec:\n  delivery: {deadLetterSink: {uri: \"http://broker-dls\"}}", 1), trigger},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].Egresses[0].DeadLetter; got != "http://broker-dls" {
				t.Errorf("dead letter %q, want the broker's", got)
			}
		},
	}, {
		name: "a dead-letter sink ref is not supported",
		docs: []string{broker, strings.Replace(trigger, "spec:", "spec:\n  delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ReasonRefNotSupported}},
	}, {
		name: "the delivery.order annotation makes a trigger ordered",
		docs: []string{broker, strings.Replace(trigger, "metadata: {name: orders, namespace: default}",
			"metadata: {name: orders, namespace: default, annotations: {kafka.eventing.knative.dev/delivery.order: ordered}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].Egresses[0].Order; got != contract.Ordered {
				t.Errorf("order %q, want ordered", got)
			}
		},
	}, {
		name: "the delivery.order annotation is read in any case, and key-ordered (ours) orders per key",
		docs: []string{broker, strings.Replace(trigger, "metadata: {name: orders, namespace: default}",
			"metadata: {name: orders, namespace: default, annotations: {kafka.eventing.knative.dev/delivery.order: KEY-Ordered}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].Egresses[0].Order; got != contract.KeyOrdered {
				t.Errorf("order %q, want key-ordered", got)
			}
		},
	}, {
		name: "a subscription is delivered in the order of its annotation, else the channel's, else ordered",
		docs: []string{
			strings.Replace(channel, "metadata: {name: events, namespace: default}",
				"metadata: {name: events, namespace: default, annotations: {kafka.eventing.knative.dev/delivery.order: unordered}}", 1),
			strings.Replace(subscription, "metadata: {name: audit, namespace: default}",
				"metadata: {name: audit, namespace: default, annotations: {kafka.eventing.knative.dev/delivery.order: Key-Ordered}}", 1),
			strings.Replace(subscription, "name: audit,", "name: billing,", 1),
			channel2, strings.Replace(strings.Replace(subscription, "name: events}", "name: plain}", 1), "name: audit,", "name: plain-audit,", 1),
		},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"KafkaChannel", "plain", ""}, {"Subscription", "audit", ""}, {"Subscription", "billing", ""}, {"Subscription", "plain-audit", ""}},
		check: func(t *testing.T, p *Plan) {
			got := map[string]contract.DeliveryOrder{}
			for _, r := range p.Contract.Resources {
				for _, e := range r.Egresses {
					got[r.Name+"/"+e.Name] = e.Order
				}
			}
			want := map[string]contract.DeliveryOrder{
				"events/audit": contract.KeyOrdered, "events/billing": contract.Unordered, "plain/plain-audit": contract.Ordered,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("orders (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "a subscription whose delivery.order annotation is invalid is not served",
		docs: []string{channel, strings.Replace(subscription, "metadata: {name: audit, namespace: default}",
			"metadata: {name: audit, namespace: default, annotations: {kafka.eventing.knative.dev/delivery.order: fifo}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"Subscription", "audit", ReasonInvalid}},
	}, {
		name: "a subscription with a reply and a dead-letter sink, under the channel's",
		docs: []string{
			strings.Replace(channel, "spec:", "spec:\n  delivery: {retry: 4, deadLetterSink: {uri: \"http://channel-dls\"}}", 1),
			strings.Replace(subscription, "  subscriber:", "  reply: {uri: \"http://reply\"}\n  delivery: {deadLetterSink: {uri: \"http://sub-dls\"}}\n  subscriber:", 1),
		},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"Subscription", "audit", ""}},
		check: func(t *testing.T, p *Plan) {
			eg := p.Contract.Resources[0].Egresses[0]
			if eg.DeadLetter != "http://sub-dls" || eg.Reply != (contract.Reply{Kind: contract.ReplyURL, URL: "http://reply"}) || eg.Delivery.Retry != 4 {
				t.Errorf("egress %+v, want the subscription's dead letter, the reply URL and the channel's retry", eg)
			}
		},
	}, {
		name: "a subscription without its own dead-letter sink uses the channel's",
		docs: []string{strings.Replace(channel, "spec:", "spec:\n  delivery: {deadLetterSink: {uri: \"http://channel-dls\"}}", 1), subscription},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"Subscription", "audit", ""}},
		check: func(t *testing.T, p *Plan) {
			if got := p.Contract.Resources[0].Egresses[0].DeadLetter; got != "http://channel-dls" {
				t.Errorf("dead letter %q, want the channel's", got)
			}
		},
	}, {
		name: "a channel with a dead-letter sink ref is not supported, nor its subscriptions",
		docs: []string{strings.Replace(channel, "spec:", "spec:\n  delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}", 1), subscription},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ReasonRefNotSupported}, {"Subscription", "audit", ReasonChannelNotReady}},
	}, {
		name: "a subscription without its channel is not served",
		docs: []string{subscription},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"Subscription", "audit", ReasonChannelNotFound}},
	}, {
		name: "a subscription to a generic Channel is not supported locally",
		docs: []string{channel, strings.Replace(subscription, "{apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: events}",
			"{apiVersion: messaging.knative.dev/v1, kind: Channel, name: events}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"Subscription", "audit", ReasonChannelUnsupported}},
	}, {
		name: "a messaging.knative.dev/v1 KafkaChannel is served as a v1beta1 one, with v1 refs to it",
		docs: []string{
			strings.Replace(channel, "apiVersion: messaging.knative.dev/v1beta1", "apiVersion: messaging.knative.dev/v1", 1),
			strings.Replace(subscription, "{apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: events}",
				"{apiVersion: messaging.knative.dev/v1, kind: KafkaChannel, name: events}", 1),
			broker,
			strings.Replace(trigger, `subscriber: {uri: "http://127.0.0.1:8081"}`,
				"subscriber: {ref: {apiVersion: messaging.knative.dev/v1, kind: KafkaChannel, name: events}}", 1),
		},
		opts: Options{IngressAddr: "127.0.0.1:8080", DefaultServers: []string{"k:1"}},
		want: []row{{"Broker", "default", ""}, {"Trigger", "orders", ""}, {"KafkaChannel", "events", ""}, {"Subscription", "audit", ""}},
		check: func(t *testing.T, p *Plan) {
			var channelAddress string
			for _, o := range p.Objects {
				if o.Kind == "KafkaChannel" {
					channelAddress = o.Address
				}
			}
			var got []string
			for _, r := range p.Contract.Resources {
				got = append(got, fmt.Sprintf("%s %s/%s egresses=%d", r.Kind, r.Namespace, r.Name, len(r.Egresses)))
				if r.Kind == "Broker" && len(r.Egresses) == 1 && (channelAddress == "" || r.Egresses[0].Destination != channelAddress) {
					t.Errorf("the trigger delivers to %q, want the v1 channel's address %q", r.Egresses[0].Destination, channelAddress)
				}
			}
			for _, tp := range p.Topics {
				got = append(got, fmt.Sprintf("topic %s partitions=%d", tp.Spec.Name, tp.Spec.Partitions))
			}
			want := []string{"Broker default/default egresses=1", "KafkaChannel default/events egresses=1",
				"topic knative-broker-default-default partitions=1", "topic knative-messaging-kafka.default.events partitions=2"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("contract resources and topics (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "a subscriber ref is not supported",
		docs: []string{channel, strings.Replace(subscription, `subscriber: {uri: "http://127.0.0.1:8082"}`,
			"subscriber: {ref: {apiVersion: v1, kind: Service, name: audit}}", 1)},
		opts: Options{DefaultServers: []string{"k:1"}},
		want: []row{{"KafkaChannel", "events", ""}, {"Subscription", "audit", ReasonRefNotSupported}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(load(t, tt.docs...), tt.opts)
			var got []row
			for _, o := range p.Objects {
				r := row{kind: o.Kind, name: o.Name}
				if o.Problem != nil {
					r.reason = o.Problem.Reason
					if o.Problem.Message == "" {
						t.Errorf("%s %s: problem %s without a message", o.Kind, o.Name, o.Problem.Reason)
					}
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(row{})); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			for _, o := range p.Objects {
				if o.Problem != nil && o.Address != "" {
					t.Errorf("%s %s has a problem and an address", o.Kind, o.Name)
				}
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

// TestBuildNamesFromConfigKafkaFeatures: a config-kafka-features ConfigMap in the folder names
// topics and consumer groups as it does on a cluster.
func TestBuildNamesFromConfigKafkaFeatures(t *testing.T) {
	features := `
apiVersion: v1
kind: ConfigMap
metadata: {name: config-kafka-features, namespace: knative-eventing}
data:
  brokers-topic-template: "brokers.{{ .Namespace }}.{{ .Name }}"
  channels-topic-template: "channels.{{ .Namespace }}.{{ .Name }}"
  triggers-consumergroup-template: "triggers.{{ .Namespace }}.{{ .Name }}"
`
	plan := Build(load(t, features, brokerConfig, broker, trigger, channel), Options{DefaultServers: []string{"127.0.0.1:9092"}})
	got := map[string]string{}
	for _, r := range plan.Contract.Resources {
		got[r.Kind] = r.Topic
		for _, e := range r.Egresses {
			got[e.Kind] = e.ConsumerGroup
		}
	}
	want := map[string]string{"Broker": "brokers.default.default", "KafkaChannel": "channels.default.events", "Trigger": "triggers.default.orders"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	var topics []string
	for _, topic := range plan.Topics {
		topics = append(topics, topic.Spec.Name)
	}
	if diff := cmp.Diff([]string{"brokers.default.default", "channels.default.events"}, topics); diff != "" {
		t.Errorf("topics created (-want +got):\n%s", diff)
	}
}

// TestBuildInvalidNameTemplate: a template that does not parse, or yields a name Kafka refuses,
// leaves the objects it names unserved with a reason.
func TestBuildInvalidNameTemplate(t *testing.T) {
	for name, data := range map[string]string{
		"does not parse": `brokers-topic-template: "{{ .Name"`,
		"invalid topic":  `brokers-topic-template: "{{ .Namespace }}/{{ .Name }}"`,
	} {
		t.Run(name, func(t *testing.T) {
			features := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-kafka-features, namespace: knative-eventing}\ndata:\n  " + data + "\n"
			plan := Build(load(t, features, brokerConfig, broker, trigger), Options{DefaultServers: []string{"127.0.0.1:9092"}})
			for _, o := range plan.Objects {
				switch {
				case o.Kind == "Broker" && (o.Problem == nil || o.Problem.Reason != ReasonNameTemplate):
					t.Errorf("broker problem = %+v, want %s", o.Problem, ReasonNameTemplate)
				case o.Kind == "Trigger" && (o.Problem == nil || o.Problem.Reason != ReasonBrokerNotReady):
					t.Errorf("trigger problem = %+v, want %s", o.Problem, ReasonBrokerNotReady)
				}
			}
			if len(plan.Contract.Resources) != 0 || len(plan.Topics) != 0 {
				t.Errorf("contract %+v and topics %+v, want none", plan.Contract.Resources, plan.Topics)
			}
		})
	}
}
