package contractbuild

import (
	"errors"
	"fmt"
	"strings"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
)

// The KafkaChannel config ConfigMap and the key it adds to the Broker's (BootstrapServersKey and
// AuthSecretNameKey are shared), as Knative's Kafka channel reads them.
const (
	ChannelConfigMapName   = "kafka-channel-config"
	ChannelConfigMapNS     = "knative-eventing"
	AuthSecretNamespaceKey = "auth.secret.ref.namespace" //nolint:gosec // a ConfigMap key, not a credential
)

const (
	channelServiceSuffix    = "-kn-channel"
	subscriptionGroupPrefix = "kafka."
	defaultClusterDomain    = "cluster.local"
	// maxServiceNameLength is the longest Service name Kubernetes accepts (a DNS label).
	maxServiceNameLength = 63
)

// ChannelConfig is the parsed kafka-channel-config ConfigMap. Unlike the Broker's, it says nothing
// about topics: a KafkaChannel's spec shapes its own topic.
type ChannelConfig struct {
	// BootstrapServers are the Kafka brokers, in the order given.
	BootstrapServers []string
	// AuthSecretName names the Secret with Kafka credentials; empty for none.
	AuthSecretName string
	// AuthSecretNamespace is the Secret's namespace; empty means the ConfigMap's own namespace,
	// which the caller knows (ChannelResource falls back to knative-eventing).
	AuthSecretNamespace string
}

// ParseChannelConfig reads the kafka-channel-config ConfigMap's data: bootstrap.servers is
// required (a comma-separated list), auth.secret.ref.name and auth.secret.ref.namespace are
// optional. A namespace without a name is ignored, as Knative's Kafka channel does.
func ParseChannelConfig(data map[string]string) (ChannelConfig, error) {
	var cfg ChannelConfig
	for _, s := range strings.Split(data[BootstrapServersKey], ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.BootstrapServers = append(cfg.BootstrapServers, s)
		}
	}
	if len(cfg.BootstrapServers) == 0 {
		return ChannelConfig{}, fmt.Errorf("%s is required", BootstrapServersKey)
	}
	cfg.AuthSecretName = strings.TrimSpace(data[AuthSecretNameKey])
	if cfg.AuthSecretName != "" {
		cfg.AuthSecretNamespace = strings.TrimSpace(data[AuthSecretNamespaceKey])
	}
	return cfg, nil
}

// ChannelServiceName is the name of the Service that gives kc its host name: <name>-kn-channel.
// Like Knative's Kafka channel, a name too long for the suffix (over 63 characters with it) is
// used as it is, so a switch finds the Service it made.
func ChannelServiceName(kc *messagingv1beta1.KafkaChannel) string {
	if len(kc.Name)+len(channelServiceSuffix) > maxServiceNameLength {
		return kc.Name
	}
	return kc.Name + channelServiceSuffix
}

// ChannelHost is kc's host name, <service>.<namespace>.svc.<domain>; an empty domain means
// cluster.local.
func ChannelHost(kc *messagingv1beta1.KafkaChannel, domain string) string {
	if domain == "" {
		domain = defaultClusterDomain
	}
	return ChannelServiceName(kc) + "." + kc.Namespace + ".svc." + domain
}

// ChannelAddress is the URL producers send kc's events to:
// http://<name>-kn-channel.<namespace>.svc.cluster.local.
func ChannelAddress(kc *messagingv1beta1.KafkaChannel) *apis.URL {
	return apis.HTTP(ChannelHost(kc, ""))
}

func channelPath(kc *messagingv1beta1.KafkaChannel) string { return "/" + kc.Namespace + "/" + kc.Name }

// ChannelResource is kc's contract entry, without egresses: the ingress routes both the host
// name (ChannelHost) and the path /<namespace>/<name> to topic (see NameTemplates.ChannelTopic).
func ChannelResource(kc *messagingv1beta1.KafkaChannel, topic string, cfg ChannelConfig) contract.Resource {
	r := contract.Resource{
		UID:              string(kc.UID),
		Kind:             contract.KindKafkaChannel,
		Namespace:        kc.Namespace,
		Name:             kc.Name,
		Topic:            topic,
		BootstrapServers: append([]string(nil), cfg.BootstrapServers...),
		Ingress:          &contract.Ingress{Path: channelPath(kc), Host: ChannelHost(kc, "")},
	}
	if cfg.AuthSecretName != "" {
		namespace := cfg.AuthSecretNamespace
		if namespace == "" {
			namespace = ChannelConfigMapNS
		}
		r.Auth = &contract.SecretRef{Namespace: namespace, Name: cfg.AuthSecretName}
	}
	return r
}

// SubscriptionConsumerGroup is the consumer group of the Subscription subscriberUID on kc:
// kafka.<namespace>.<channel>.<subscription UID>, the name Knative's Kafka channel uses, so
// committed offsets carry over.
func SubscriptionConsumerGroup(kc *messagingv1beta1.KafkaChannel, subscriberUID string) string {
	return subscriptionGroupPrefix + kc.Namespace + "." + kc.Name + "." + subscriberUID
}

// SubscriberEgress is the contract entry of one of kc's subscribers, as Knative's subscription
// reconciler wrote it into spec.subscribers (with resolved URIs): its consumer group, the
// subscriber, replies to the reply URI (discarded without one), the subscriber's dead-letter sink
// or else channelDeadLetter (nil for none), the subscriber's delivery merged over the channel's,
// and the order SubscriptionOrder reads from subscription, the annotations of the subscriber's
// Subscription (nil when it is not known: the channel's default applies).
func SubscriberEgress(kc *messagingv1beta1.KafkaChannel, sub eventingduckv1.SubscriberSpec, subscription map[string]string, channelDeadLetter *apis.URL) (contract.Egress, error) {
	if sub.UID == "" {
		return contract.Egress{}, errors.New("subscriber has no uid")
	}
	if sub.SubscriberURI == nil {
		return contract.Egress{}, fmt.Errorf("subscriber %s has no subscriberUri", sub.UID)
	}
	deadLetter, err := subscriberDeadLetter(sub, channelDeadLetter)
	if err != nil {
		return contract.Egress{}, err
	}
	delivery, err := MergeDelivery(sub.Delivery, kc.Spec.Delivery)
	if err != nil {
		return contract.Egress{}, fmt.Errorf("subscriber %s: %w", sub.UID, err)
	}
	order, err := SubscriptionOrder(kc, subscription)
	if err != nil {
		return contract.Egress{}, fmt.Errorf("subscriber %s: %w", sub.UID, err)
	}
	e := contract.Egress{
		UID:           string(sub.UID),
		Kind:          contract.KindSubscription,
		Namespace:     kc.Namespace,
		ConsumerGroup: SubscriptionConsumerGroup(kc, string(sub.UID)),
		Destination:   sub.SubscriberURI.String(),
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
		DeadLetter:    deadLetter,
		Delivery:      delivery,
		Order:         order,
	}
	if sub.Name != nil {
		e.Name = *sub.Name
	}
	if sub.ReplyURI != nil {
		e.Reply = contract.Reply{Kind: contract.ReplyURL, URL: sub.ReplyURI.String()}
	}
	return e, nil
}

// subscriberDeadLetter is the subscriber's own resolved dead-letter sink, else the channel's.
func subscriberDeadLetter(sub eventingduckv1.SubscriberSpec, channelDeadLetter *apis.URL) (string, error) {
	if sub.Delivery != nil && sub.Delivery.DeadLetterSink != nil {
		if sub.Delivery.DeadLetterSink.URI == nil {
			return "", fmt.Errorf("subscriber %s: the dead-letter sink is not resolved to a URI", sub.UID)
		}
		return sub.Delivery.DeadLetterSink.URI.String(), nil
	}
	if channelDeadLetter != nil {
		return channelDeadLetter.String(), nil
	}
	return "", nil
}
