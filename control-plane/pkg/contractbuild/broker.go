// Package contractbuild turns Knative objects into routing-contract entries: BrokerResource for a
// Broker, TriggerEgress for a Trigger (with MergeDelivery for its retry settings), plus the names
// users see (BrokerAddress; topics and consumer groups from NameTemplates, names.go) and the
// Broker's ConfigMap (ParseBrokerConfig); sink.go does the same for a KafkaSink (SinkResource,
// SinkAddress).
// Everything here is pure — no Kubernetes, no Kafka — so the reconcilers and
// the local all-in-one mode build the same contract from the same objects.
package contractbuild

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
)

// Keys of the Broker config ConfigMap (kafka-broker-config), as Knative's Kafka broker reads them.
const (
	BootstrapServersKey        = "bootstrap.servers"
	TopicPartitionsKey         = "default.topic.partitions"
	TopicReplicationFactorKey  = "default.topic.replication.factor"
	TopicConfigPrefix          = "default.topic.config."
	AuthSecretNameKey          = "auth.secret.ref.name" //nolint:gosec // a ConfigMap key naming a Secret, not a credential
	DefaultBrokerConfigMapName = "kafka-broker-config"
	DefaultBrokerConfigMapNS   = "knative-eventing"
	// DefaultIngressHost is the host of the broker ingress Service.
	DefaultIngressHost = "kafka-broker-ingress.knative-eventing.svc.cluster.local"
)

// BrokerConfig is the parsed Broker config ConfigMap.
type BrokerConfig struct {
	// BootstrapServers are the Kafka brokers, in the order given.
	BootstrapServers []string
	// TopicPartitions and TopicReplicationFactor shape the topics created for Brokers.
	TopicPartitions        int32
	TopicReplicationFactor int16
	// TopicConfig holds the default.topic.config.<key> entries by <key> (for example
	// "retention.ms"); nil when there are none.
	TopicConfig map[string]string
	// AuthSecretName names the Secret with Kafka credentials, in the ConfigMap's namespace; empty
	// for none.
	AuthSecretName string
}

// ParseBrokerConfig reads a Broker config ConfigMap's data. bootstrap.servers,
// default.topic.partitions and default.topic.replication.factor are required and the numbers must
// be positive — as in Knative's Kafka broker, which has no defaults for them either, so a ConfigMap
// that works there works here and vice versa.
func ParseBrokerConfig(data map[string]string) (BrokerConfig, error) {
	var cfg BrokerConfig
	var errs []error
	for _, s := range strings.Split(data[BootstrapServersKey], ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.BootstrapServers = append(cfg.BootstrapServers, s)
		}
	}
	if len(cfg.BootstrapServers) == 0 {
		errs = append(errs, fmt.Errorf("%s is required", BootstrapServersKey))
	}
	if n, err := positive(data, TopicPartitionsKey, 32); err != nil {
		errs = append(errs, err)
	} else {
		cfg.TopicPartitions = int32(n)
	}
	if n, err := positive(data, TopicReplicationFactorKey, 16); err != nil {
		errs = append(errs, err)
	} else {
		cfg.TopicReplicationFactor = int16(n)
	}
	for k, v := range data {
		if key, ok := strings.CutPrefix(k, TopicConfigPrefix); ok && key != "" {
			if cfg.TopicConfig == nil {
				cfg.TopicConfig = map[string]string{}
			}
			cfg.TopicConfig[key] = strings.TrimSpace(v)
		}
	}
	cfg.AuthSecretName = strings.TrimSpace(data[AuthSecretNameKey])
	if err := errors.Join(errs...); err != nil {
		return BrokerConfig{}, err
	}
	return cfg, nil
}

func positive(data map[string]string, key string, bits int) (int64, error) {
	raw, ok := data[key]
	if !ok {
		return 0, fmt.Errorf("%s is required", key)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, bits)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a positive integer, got %q", key, raw)
	}
	return n, nil
}

// BrokerConfigMapRef returns the namespace and name of b's config ConfigMap: spec.config, whose
// namespace defaults to b's, or kafka-broker-config in knative-eventing when spec.config is unset.
func BrokerConfigMapRef(b *eventingv1.Broker) (namespace, name string, err error) {
	ref := b.Spec.Config
	if ref == nil {
		return DefaultBrokerConfigMapNS, DefaultBrokerConfigMapName, nil
	}
	if ref.Kind != "ConfigMap" || (ref.APIVersion != "" && ref.APIVersion != "v1") {
		return "", "", fmt.Errorf("spec.config must reference a v1 ConfigMap, got %s %s", ref.APIVersion, ref.Kind)
	}
	namespace = ref.Namespace
	if namespace == "" {
		namespace = b.Namespace
	}
	return namespace, ref.Name, nil
}

// ExternalTopic returns the topic named by b's external.topic annotation; we neither create nor
// delete it.
func ExternalTopic(b *eventingv1.Broker) (string, bool) {
	topic, ok := b.Annotations[eventing.ExternalTopicAnnotation]
	topic = strings.TrimSpace(topic)
	return topic, ok && topic != ""
}

// BrokerAddress is the URL producers send b's events to: the ingress host (DefaultIngressHost when
// ingressHost is empty) and the path /<namespace>/<name>.
func BrokerAddress(b *eventingv1.Broker, ingressHost string) *apis.URL {
	if ingressHost == "" {
		ingressHost = DefaultIngressHost
	}
	return &apis.URL{Scheme: "http", Host: ingressHost, Path: brokerPath(b)}
}

func brokerPath(b *eventingv1.Broker) string { return "/" + b.Namespace + "/" + b.Name }

// BrokerResource is b's contract entry, without egresses, on topic (see NameTemplates.BrokerTopic).
// secretNamespace is the namespace of the config ConfigMap, where cfg.AuthSecretName lives.
func BrokerResource(b *eventingv1.Broker, topic string, cfg BrokerConfig, secretNamespace string) contract.Resource {
	r := contract.Resource{
		UID:              string(b.UID),
		Kind:             contract.KindBroker,
		Namespace:        b.Namespace,
		Name:             b.Name,
		Topic:            topic,
		BootstrapServers: append([]string(nil), cfg.BootstrapServers...),
		Ingress:          &contract.Ingress{Path: brokerPath(b)},
	}
	if cfg.AuthSecretName != "" {
		r.Auth = &contract.SecretRef{Namespace: secretNamespace, Name: cfg.AuthSecretName}
	}
	return r
}
