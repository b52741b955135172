package manifests

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"knkafka.dev/control-plane/pkg/contractbuild"
)

// strimziBootstrap is the documented placeholder: Strimzi's bootstrap Service of a Kafka named
// my-cluster in namespace kafka, as in Knative's Kafka broker.
const strimziBootstrap = "my-cluster-kafka-bootstrap.kafka:9092"

// TestShippedConfigMapsParse: the default Broker and channel configs are where the controller looks
// for them and parse as it parses them, with Knative's Kafka broker's defaults.
func TestShippedConfigMapsParse(t *testing.T) {
	objs := config(t)
	t.Run(contractbuild.DefaultBrokerConfigMapName, func(t *testing.T) {
		cm, ok := find[*corev1.ConfigMap](objs, contractbuild.DefaultBrokerConfigMapNS, contractbuild.DefaultBrokerConfigMapName)
		if !ok {
			t.Fatalf("ConfigMap %s/%s does not exist", contractbuild.DefaultBrokerConfigMapNS, contractbuild.DefaultBrokerConfigMapName)
		}
		got, err := contractbuild.ParseBrokerConfig(cm.Data)
		if err != nil {
			t.Fatal(err)
		}
		want := contractbuild.BrokerConfig{
			BootstrapServers:       []string{strimziBootstrap},
			TopicPartitions:        10,
			TopicReplicationFactor: 3,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parsed config (-want +got):\n%s", diff)
		}
	})
	t.Run(contractbuild.ChannelConfigMapName, func(t *testing.T) {
		cm, ok := find[*corev1.ConfigMap](objs, contractbuild.ChannelConfigMapNS, contractbuild.ChannelConfigMapName)
		if !ok {
			t.Fatalf("ConfigMap %s/%s does not exist", contractbuild.ChannelConfigMapNS, contractbuild.ChannelConfigMapName)
		}
		got, err := contractbuild.ParseChannelConfig(cm.Data)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(contractbuild.ChannelConfig{BootstrapServers: []string{strimziBootstrap}}, got); diff != "" {
			t.Errorf("parsed config (-want +got):\n%s", diff)
		}
	})
	t.Run(contractbuild.FeaturesConfigMapName, func(t *testing.T) {
		cm, ok := find[*corev1.ConfigMap](objs, contractbuild.FeaturesConfigMapNS, contractbuild.FeaturesConfigMapName)
		if !ok {
			t.Fatalf("ConfigMap %s/%s does not exist", contractbuild.FeaturesConfigMapNS, contractbuild.FeaturesConfigMapName)
		}
		want := map[string]string{
			contractbuild.BrokersTopicTemplateKey:          contractbuild.DefaultBrokersTopicTemplate,
			contractbuild.ChannelsTopicTemplateKey:         contractbuild.DefaultChannelsTopicTemplate,
			contractbuild.TriggersConsumerGroupTemplateKey: contractbuild.DefaultTriggersConsumerGroupTemplate,
		}
		if diff := cmp.Diff(want, cm.Data); diff != "" {
			t.Errorf("templates (-want +got):\n%s", diff)
		}
		if _, err := contractbuild.ParseNameTemplates(cm.Data); err != nil {
			t.Error(err)
		}
	})
}
