package routing

import (
	"testing"

	"knkafka.dev/control-plane/pkg/contract"
)

func testContract() *contract.Contract {
	return &contract.Contract{Generation: 3, Resources: []contract.Resource{
		{UID: "broker", Kind: contract.KindBroker, Topic: "tb", BootstrapServers: []string{"b:9092", "a:9092"},
			Ingress: &contract.Ingress{Path: "/default/default"}},
		{UID: "channel", Kind: contract.KindKafkaChannel, Topic: "tc", BootstrapServers: []string{"a:9092", "b:9092"},
			Ingress: &contract.Ingress{Path: "/team/events", Host: "events-kn-channel.team.svc.cluster.local"}},
		{UID: "no-ingress", Kind: contract.KindBroker, Topic: "tx"},
		{UID: "source", Kind: contract.KindKafkaSource, Namespace: "default", Name: "source", Topics: []string{"t1", "t2"},
			BootstrapServers: []string{"a:9092"}, Source: &contract.Source{EventSource: "/apis/v1/namespaces/default/kafkasources/source"}},
		{UID: "other-cluster", Kind: contract.KindBroker, Topic: "to", BootstrapServers: []string{"a:9092", "b:9092"},
			Auth: &contract.SecretRef{Namespace: "ns", Name: "creds"}, Ingress: &contract.Ingress{Path: "/ns/secure/"}},
	}}
}

func TestLookup(t *testing.T) {
	table := NewTable(testContract())
	tests := []struct {
		name, host, path string
		want             string // resource UID, "" for no route
	}{
		{name: "broker by path", host: "kafka-broker-ingress.knative-eventing.svc.cluster.local", path: "/default/default", want: "broker"},
		{name: "trailing slash", host: "x", path: "/default/default/", want: "broker"},
		{name: "channel by host", host: "events-kn-channel.team.svc.cluster.local", path: "/", want: "channel"},
		{name: "channel by host with port and capitals", host: "Events-KN-Channel.team.svc.cluster.local:80", path: "", want: "channel"},
		{name: "channel by path", host: "kafka-channel-ingress", path: "/team/events", want: "channel"},
		{name: "path wins over a channel host", host: "events-kn-channel.team.svc.cluster.local", path: "/default/default", want: "broker"},
		{name: "resource path declared with a trailing slash", host: "x", path: "/ns/secure", want: "other-cluster"},
		{name: "unknown path", host: "x", path: "/default/missing", want: ""},
		{name: "a KafkaSource is not addressable", host: "x", path: "/default/source", want: ""},
		{name: "unknown host at root", host: "nope.svc", path: "/", want: ""},
		{name: "sub path is not the resource", host: "x", path: "/default/default/extra", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := table.Lookup(tc.host, tc.path)
			got := ""
			if ok {
				got = r.Resource.UID
			}
			if got != tc.want {
				t.Errorf("Lookup(%q, %q) = %q, want %q", tc.host, tc.path, got, tc.want)
			}
		})
	}
	if g := table.Generation(); g != 3 {
		t.Errorf("Generation() = %d, want 3", g)
	}
	if n := len(table.Routes()); n != 3 {
		t.Errorf("%d routes, want 3 (a resource without ingress, such as a KafkaSource, is not routable)", n)
	}
}

// TestSinkPathsAreScopedToTheSinkHost: a KafkaSink and a Broker with the same namespace and name
// share "/ns/name" on the one ingress; the Host of each one's address tells them apart, and a
// sink alone on its path is reached through any host.
func TestSinkPathsAreScopedToTheSinkHost(t *testing.T) {
	const sinkHost = "kafka-sink-ingress.knative-eventing.svc.cluster.local"
	table := NewTable(&contract.Contract{Resources: []contract.Resource{
		{UID: "broker", Kind: contract.KindBroker, Topic: "tb", Ingress: &contract.Ingress{Path: "/ns/shared"}},
		{UID: "sink", Kind: contract.KindKafkaSink, Topic: "ts", Ingress: &contract.Ingress{Path: "/ns/shared", PathHost: sinkHost}},
		{UID: "lone-sink", Kind: contract.KindKafkaSink, Topic: "tl", Ingress: &contract.Ingress{Path: "/ns/lone/", PathHost: sinkHost}},
	}})
	tests := []struct {
		name, host, path string
		want             string
	}{
		{name: "the sink on the sink host", host: sinkHost, path: "/ns/shared", want: "sink"},
		{name: "the sink host with a port and capitals", host: "Kafka-Sink-Ingress.knative-eventing.svc.cluster.local:80", path: "/ns/shared/", want: "sink"},
		{name: "the broker on the broker host", host: "kafka-broker-ingress.knative-eventing.svc.cluster.local", path: "/ns/shared", want: "broker"},
		{name: "another host gets the unscoped broker", host: "127.0.0.1:8080", path: "/ns/shared", want: "broker"},
		{name: "a sink alone on its path through any host", host: "127.0.0.1:8080", path: "/ns/lone", want: "lone-sink"},
		{name: "a sink alone on its path through its host", host: sinkHost, path: "/ns/lone", want: "lone-sink"},
		{name: "the sink host does not invent paths", host: sinkHost, path: "/ns/missing", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := table.Lookup(tc.host, tc.path)
			got := ""
			if ok {
				got = r.Resource.UID
			}
			if got != tc.want {
				t.Errorf("Lookup(%q, %q) = %q, want %q", tc.host, tc.path, got, tc.want)
			}
		})
	}
}

func TestNilContractRoutesNothing(t *testing.T) {
	if _, ok := NewTable(nil).Lookup("h", "/a/b"); ok {
		t.Error("empty table routed a request")
	}
}

func BenchmarkLookup(b *testing.B) {
	c := &contract.Contract{}
	for i := 0; i < 1000; i++ {
		c.Resources = append(c.Resources, contract.Resource{UID: string(rune(i)), Ingress: &contract.Ingress{
			Path: "/ns/broker-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))}})
	}
	table := NewTable(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := table.Lookup("kafka-broker-ingress.knative-eventing.svc.cluster.local", "/ns/broker-abb"); !ok {
			b.Fatal("not found")
		}
	}
}
