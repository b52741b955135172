package contractbuild

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

// The config-kafka-features ConfigMap and its name-template keys, as Knative's Kafka broker reads
// them. Each value is a Go text/template executed over the object's metav1.ObjectMeta (.Namespace,
// .Name, .UID, .Labels, .Annotations...).
const (
	FeaturesConfigMapName = "config-kafka-features"
	FeaturesConfigMapNS   = "knative-eventing"

	BrokersTopicTemplateKey          = "brokers-topic-template"
	ChannelsTopicTemplateKey         = "channels-topic-template"
	TriggersConsumerGroupTemplateKey = "triggers-consumergroup-template"
)

// The incumbent's defaults: today's names, so an installation that never set a template keeps
// its topics and committed offsets.
const (
	DefaultBrokersTopicTemplate          = "knative-broker-{{ .Namespace }}-{{ .Name }}"
	DefaultChannelsTopicTemplate         = "knative-messaging-kafka.{{ .Namespace }}.{{ .Name }}"
	DefaultTriggersConsumerGroupTemplate = "knative-trigger-{{ .Namespace }}-{{ .Name }}"
)

// Status annotations recording the names an object got, under the keys Knative's Kafka broker
// writes: a recorded name wins over the template for the object's life, so changing a template
// never orphans a topic or a consumer group (and names the incumbent recorded carry over).
const (
	// TopicStatusAnnotation holds the topic of a Broker or KafkaChannel in status.annotations.
	TopicStatusAnnotation = "default.topic"
	// ConsumerGroupStatusAnnotation holds the consumer group of a Trigger in status.annotations.
	ConsumerGroupStatusAnnotation = "group.id"
)

// maxTopicNameLength is the longest topic name Kafka accepts.
const maxTopicNameLength = 249

var topicNameChars = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// NameTemplates are the templates that name new topics and consumer groups; get them from
// DefaultNameTemplates or ParseNameTemplates. The zero value has no templates: it still returns
// external and recorded names, and fails for an object that has none (a reconciler whose
// ConfigMap is broken can so still finalize what it named before).
type NameTemplates struct {
	brokerTopic, channelTopic, triggerGroup *template.Template
}

// DefaultNameTemplates returns the templates used when config-kafka-features sets none.
func DefaultNameTemplates() NameTemplates {
	n, err := ParseNameTemplates(nil)
	if err != nil {
		panic(fmt.Sprintf("the default name templates do not parse: %v", err)) // a programming error
	}
	return n
}

// ParseNameTemplates reads the name templates from config-kafka-features' data; a key that is
// absent keeps its default. Like Knative's Kafka broker, it also accepts the older dotted keys
// (brokers.topic.template...), the dashed key winning when both are set.
func ParseNameTemplates(data map[string]string) (NameTemplates, error) {
	var n NameTemplates
	var err error
	if n.brokerTopic, err = nameTemplate(data, BrokersTopicTemplateKey, DefaultBrokersTopicTemplate); err != nil {
		return NameTemplates{}, err
	}
	if n.channelTopic, err = nameTemplate(data, ChannelsTopicTemplateKey, DefaultChannelsTopicTemplate); err != nil {
		return NameTemplates{}, err
	}
	if n.triggerGroup, err = nameTemplate(data, TriggersConsumerGroupTemplateKey, DefaultTriggersConsumerGroupTemplate); err != nil {
		return NameTemplates{}, err
	}
	return n, nil
}

func nameTemplate(data map[string]string, key, def string) (*template.Template, error) {
	text, ok := data[key]
	if !ok {
		dotted := strings.ReplaceAll(key, "-", ".")
		if text, ok = data[dotted]; ok {
			key = dotted
		}
	}
	if !ok {
		text = def
	}
	// missingkey=error: a template reading an absent label or annotation fails clearly instead
	// of naming a topic "<no value>".
	t, err := template.New(key).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

// BrokerTopic is b's topic: the external.topic annotation if set, else the name recorded in
// b's status annotations, else the brokers' template executed over b's metadata.
func (n NameTemplates) BrokerTopic(b *eventingv1.Broker) (string, error) {
	if topic, ok := ExternalTopic(b); ok {
		return topic, nil
	}
	if topic, ok := recorded(b.Status.Annotations, TopicStatusAnnotation); ok {
		return topic, nil
	}
	return topicName(n.brokerTopic, b.ObjectMeta)
}

// ChannelTopic is kc's topic: the name recorded in kc's status annotations, else the channels'
// template executed over kc's metadata.
func (n NameTemplates) ChannelTopic(kc *messagingv1beta1.KafkaChannel) (string, error) {
	if topic, ok := recorded(kc.Status.Annotations, TopicStatusAnnotation); ok {
		return topic, nil
	}
	return topicName(n.channelTopic, kc.ObjectMeta)
}

// TriggerConsumerGroup is t's consumer group: the name recorded in t's status annotations, else
// the triggers' template executed over t's metadata.
func (n NameTemplates) TriggerConsumerGroup(t *eventingv1.Trigger) (string, error) {
	if group, ok := recorded(t.Status.Annotations, ConsumerGroupStatusAnnotation); ok {
		return group, nil
	}
	group, err := execute(n.triggerGroup, t.ObjectMeta)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(group) == "" {
		return "", fmt.Errorf("template %s yields an empty consumer group name", n.triggerGroup.Name())
	}
	return group, nil
}

func recorded(annotations map[string]string, key string) (string, bool) {
	name, ok := annotations[key]
	return name, ok && name != ""
}

func topicName(t *template.Template, meta metav1.ObjectMeta) (string, error) {
	name, err := execute(t, meta)
	if err != nil {
		return "", err
	}
	if err := ValidTopicName(name); err != nil {
		return "", fmt.Errorf("template %s: %w", t.Name(), err)
	}
	return name, nil
}

func execute(t *template.Template, meta metav1.ObjectMeta) (string, error) {
	if t == nil {
		return "", errors.New("no name template: use DefaultNameTemplates or ParseNameTemplates")
	}
	var sb strings.Builder
	if err := t.Execute(&sb, meta); err != nil {
		return "", fmt.Errorf("executing template %s: %w", t.Name(), err)
	}
	return sb.String(), nil
}

// ValidTopicName reports why Kafka would refuse name as a topic name: empty, "." or "..", longer
// than 249 characters, or holding a character other than ASCII letters, digits, '.', '_' and '-'.
func ValidTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("the topic name %q is not allowed", name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("the topic name %q is longer than %d characters", name, maxTopicNameLength)
	case !topicNameChars.MatchString(name):
		return fmt.Errorf("the topic name %q has characters other than ASCII letters, digits, '.', '_' and '-'", name)
	}
	return nil
}
