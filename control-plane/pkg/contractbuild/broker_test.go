package contractbuild_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

func TestParseBrokerConfig(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    contractbuild.BrokerConfig
		wantErr []string
	}{{
		name: "a full config with topic configs and auth",
		data: map[string]string{
			"bootstrap.servers":                   " k1:9092, k2:9092 ,,",
			"default.topic.partitions":            "10",
			"default.topic.replication.factor":    "3",
			"default.topic.config.retention.ms":   "3600000",
			"default.topic.config.cleanup.policy": "delete",
			"default.topic.config.":               "ignored: no key",
			"auth.secret.ref.name":                "kafka-auth",
			"unrelated.key":                       "ignored",
		},
		want: contractbuild.BrokerConfig{
			BootstrapServers:       []string{"k1:9092", "k2:9092"},
			TopicPartitions:        10,
			TopicReplicationFactor: 3,
			TopicConfig:            map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete"},
			AuthSecretName:         "kafka-auth",
		},
	}, {
		name: "a minimal config has no topic configs and no auth",
		data: map[string]string{"bootstrap.servers": "k:9092", "default.topic.partitions": "1", "default.topic.replication.factor": "1"},
		want: contractbuild.BrokerConfig{BootstrapServers: []string{"k:9092"}, TopicPartitions: 1, TopicReplicationFactor: 1},
	}, {
		name:    "an empty config names every missing key",
		data:    map[string]string{},
		wantErr: []string{"bootstrap.servers is required", "default.topic.partitions is required", "default.topic.replication.factor is required"},
	}, {
		name:    "numbers must be positive integers",
		data:    map[string]string{"bootstrap.servers": "k:9092", "default.topic.partitions": "0", "default.topic.replication.factor": "three"},
		wantErr: []string{`default.topic.partitions must be a positive integer, got "0"`, `default.topic.replication.factor must be a positive integer, got "three"`},
	}, {
		name:    "a replication factor beyond int16 is rejected",
		data:    map[string]string{"bootstrap.servers": "k:9092", "default.topic.partitions": "1", "default.topic.replication.factor": "40000"},
		wantErr: []string{"default.topic.replication.factor must be a positive integer"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contractbuild.ParseBrokerConfig(tt.data)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseBrokerConfig = %+v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseBrokerConfig(f *testing.F) {
	f.Add("k:9092", "10", "3", "3600000")
	f.Add(",", "-1", "x", "")
	f.Fuzz(func(t *testing.T, servers, partitions, replication, retention string) {
		cfg, err := contractbuild.ParseBrokerConfig(map[string]string{
			"bootstrap.servers": servers, "default.topic.partitions": partitions,
			"default.topic.replication.factor": replication, "default.topic.config.retention.ms": retention,
		})
		if err != nil {
			return
		}
		if len(cfg.BootstrapServers) == 0 || cfg.TopicPartitions <= 0 || cfg.TopicReplicationFactor <= 0 {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
		for _, s := range cfg.BootstrapServers {
			if s == "" || strings.Contains(s, ",") {
				t.Fatalf("bad server %q", s)
			}
		}
	})
}

func TestBrokerConfigMapRef(t *testing.T) {
	tests := []struct {
		name          string
		config        *duckv1.KReference
		wantNS, wantN string
		wantErr       bool
	}{
		{name: "unset uses kafka-broker-config in knative-eventing", wantNS: "knative-eventing", wantN: "kafka-broker-config"},
		{name: "a namespaced reference is used as is", config: &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ops", Name: "kafka"}, wantNS: "ops", wantN: "kafka"},
		{name: "a reference without namespace is in the broker's", config: &duckv1.KReference{Kind: "ConfigMap", Name: "kafka"}, wantNS: "ns", wantN: "kafka"},
		{name: "another kind is an error", config: &duckv1.KReference{APIVersion: "v1", Kind: "Secret", Name: "kafka"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := broker()
			b.Spec.Config = tt.config
			ns, name, err := contractbuild.BrokerConfigMapRef(b)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ns != tt.wantNS || name != tt.wantN {
				t.Errorf("ref = %s/%s, want %s/%s", ns, name, tt.wantNS, tt.wantN)
			}
		})
	}
}

func TestBrokerNames(t *testing.T) {
	b := broker()
	names := contractbuild.DefaultNameTemplates()
	if got, err := names.BrokerTopic(b); err != nil || got != "knative-broker-ns-default" {
		t.Errorf("BrokerTopic = %q, %v, want knative-broker-ns-default", got, err)
	}
	if got, want := contractbuild.BrokerAddress(b, "").String(), "http://kafka-broker-ingress.knative-eventing.svc.cluster.local/ns/default"; got != want {
		t.Errorf("BrokerAddress = %q, want %q", got, want)
	}
	if got, want := contractbuild.BrokerAddress(b, "localhost:8080").String(), "http://localhost:8080/ns/default"; got != want {
		t.Errorf("BrokerAddress with host = %q, want %q", got, want)
	}
	b.Annotations = map[string]string{eventing.ExternalTopicAnnotation: "existing"}
	if got, err := names.BrokerTopic(b); err != nil || got != "existing" {
		t.Errorf("BrokerTopic with external topic = %q, %v, want existing", got, err)
	}
	b.Annotations[eventing.ExternalTopicAnnotation] = " "
	if _, ok := contractbuild.ExternalTopic(b); ok {
		t.Error("a blank external.topic annotation counts as an external topic")
	}
}

func TestBrokerResource(t *testing.T) {
	cfg := contractbuild.BrokerConfig{BootstrapServers: []string{"k1:9092", "k2:9092"}, TopicPartitions: 10, TopicReplicationFactor: 3, AuthSecretName: "kafka-auth"}
	got := contractbuild.BrokerResource(broker(), "knative-broker-ns-default", cfg, "knative-eventing")
	want := contract.Resource{
		UID: "broker-uid", Kind: "Broker", Namespace: "ns", Name: "default",
		Topic:            "knative-broker-ns-default",
		BootstrapServers: []string{"k1:9092", "k2:9092"},
		Auth:             &contract.SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"},
		Ingress:          &contract.Ingress{Path: "/ns/default"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resource (-want +got):\n%s", diff)
	}
	golden(t, "broker_resource", got)

	cfg.AuthSecretName = ""
	if got := contractbuild.BrokerResource(broker(), "knative-broker-ns-default", cfg, "knative-eventing"); got.Auth != nil {
		t.Errorf("Auth = %+v without a secret, want nil", got.Auth)
	}
}

func broker() *eventingv1.Broker {
	return &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default", UID: "broker-uid"}}
}
