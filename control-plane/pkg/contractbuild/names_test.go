package contractbuild_test

import (
	"strings"
	"testing"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

// TestDefaultNameTemplatesGiveTodaysNames pins the defaults to the names Knative's Kafka broker
// and channel use, so a switch finds their topics and committed offsets.
func TestDefaultNameTemplatesGiveTodaysNames(t *testing.T) {
	for name, names := range map[string]contractbuild.NameTemplates{
		"DefaultNameTemplates":             contractbuild.DefaultNameTemplates(),
		"ParseNameTemplates of no data":    mustParse(t, nil),
		"ParseNameTemplates of other keys": mustParse(t, map[string]string{"dispatcher-rate-limiter": "disabled"}),
	} {
		t.Run(name, func(t *testing.T) {
			topic, err := names.BrokerTopic(broker())
			check(t, "BrokerTopic", topic, err, "knative-broker-ns-default")
			topic, err = names.ChannelTopic(channel())
			check(t, "ChannelTopic", topic, err, "knative-messaging-kafka.ns.orders")
			group, err := names.TriggerConsumerGroup(trigger())
			check(t, "TriggerConsumerGroup", group, err, "knative-trigger-ns-orders")
		})
	}
}

func TestCustomNameTemplates(t *testing.T) {
	names := mustParse(t, map[string]string{
		"brokers-topic-template":          "brokers.{{ .Namespace }}.{{ .Name }}.{{ .UID }}",
		"channels-topic-template":         `{{ index .Labels "team" }}-{{ .Name }}`,
		"triggers-consumergroup-template": "cg/{{ .Namespace }}/{{ .Name }}",
	})
	topic, err := names.BrokerTopic(broker())
	check(t, "BrokerTopic", topic, err, "brokers.ns.default.broker-uid")
	kc := channel()
	kc.Labels = map[string]string{"team": "payments"}
	topic, err = names.ChannelTopic(kc)
	check(t, "ChannelTopic", topic, err, "payments-orders")
	group, err := names.TriggerConsumerGroup(trigger())
	check(t, "TriggerConsumerGroup", group, err, "cg/ns/orders")
}

// TestDottedTemplateKeys: the older dotted keys Knative's Kafka broker still reads work, and
// the dashed key wins when both are set.
func TestDottedTemplateKeys(t *testing.T) {
	names := mustParse(t, map[string]string{
		"brokers.topic.template":          "old-{{ .Name }}",
		"triggers.consumergroup.template": "old-{{ .Name }}",
		"triggers-consumergroup-template": "new-{{ .Name }}",
	})
	topic, err := names.BrokerTopic(broker())
	check(t, "BrokerTopic", topic, err, "old-default")
	group, err := names.TriggerConsumerGroup(trigger())
	check(t, "TriggerConsumerGroup", group, err, "new-orders")
}

// TestRecordedNamesWin: a name recorded in status annotations is kept whatever the template says
// now, so a template change never orphans a topic or a consumer group.
func TestRecordedNamesWin(t *testing.T) {
	names := mustParse(t, map[string]string{
		"brokers-topic-template":          "changed-{{ .Name }}",
		"channels-topic-template":         "changed-{{ .Name }}",
		"triggers-consumergroup-template": "changed-{{ .Name }}",
	})
	b := broker()
	b.Status.Annotations = map[string]string{contractbuild.TopicStatusAnnotation: "knative-broker-ns-default"}
	topic, err := names.BrokerTopic(b)
	check(t, "BrokerTopic", topic, err, "knative-broker-ns-default")

	kc := channel()
	kc.Status.Annotations = map[string]string{contractbuild.TopicStatusAnnotation: "knative-channel-ns-orders"}
	topic, err = names.ChannelTopic(kc)
	check(t, "ChannelTopic", topic, err, "knative-channel-ns-orders")

	tr := trigger()
	tr.Status.Annotations = map[string]string{contractbuild.ConsumerGroupStatusAnnotation: "knative-trigger-ns-orders"}
	group, err := names.TriggerConsumerGroup(tr)
	check(t, "TriggerConsumerGroup", group, err, "knative-trigger-ns-orders")

	// An empty recorded value is no record.
	tr.Status.Annotations[contractbuild.ConsumerGroupStatusAnnotation] = ""
	group, err = names.TriggerConsumerGroup(tr)
	check(t, "TriggerConsumerGroup with an empty record", group, err, "changed-orders")
}

// TestExternalTopicWinsOverRecorded: the external.topic annotation names the topic even when
// another one is recorded.
func TestExternalTopicWinsOverRecorded(t *testing.T) {
	b := broker()
	b.Annotations = map[string]string{eventing.ExternalTopicAnnotation: "existing"}
	b.Status.Annotations = map[string]string{contractbuild.TopicStatusAnnotation: "knative-broker-ns-default"}
	topic, err := contractbuild.DefaultNameTemplates().BrokerTopic(b)
	check(t, "BrokerTopic", topic, err, "existing")
}

func TestParseNameTemplatesRejectsBadTemplates(t *testing.T) {
	for key, text := range map[string]string{
		"brokers-topic-template":          "knative-broker-{{ .Namespace",
		"channels.topic.template":         "{{ if }}",
		"triggers-consumergroup-template": "{{ .Name | nosuchfunc }}",
	} {
		_, err := contractbuild.ParseNameTemplates(map[string]string{key: text})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("ParseNameTemplates(%s: %q) = %v, want an error naming the key", key, text, err)
		}
	}
}

func TestNameTemplatesRejectBadNames(t *testing.T) {
	tests := []struct {
		name, key, template, wantErr string
	}{
		{"a missing field", "brokers-topic-template", "{{ .NoSuchField }}", "executing template brokers-topic-template"},
		{"a missing label", "brokers-topic-template", "{{ .Labels.team }}", "executing template brokers-topic-template"},
		{"a slash in a topic", "brokers-topic-template", "{{ .Namespace }}/{{ .Name }}", `"ns/default" has characters other than`},
		{"an empty topic", "channels-topic-template", "{{ .GenerateName }}", "the topic name is empty"},
		{"a dot for a topic", "channels-topic-template", ".", `"." is not allowed`},
		{"a topic too long", "brokers-topic-template", strings.Repeat("x", 250), "longer than 249 characters"},
		{"an empty group", "triggers-consumergroup-template", " ", "empty consumer group name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := mustParse(t, map[string]string{tt.key: tt.template})
			var err error
			switch tt.key {
			case "brokers-topic-template":
				_, err = names.BrokerTopic(broker())
			case "channels-topic-template":
				_, err = names.ChannelTopic(channel())
			default:
				_, err = names.TriggerConsumerGroup(trigger())
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidTopicName(t *testing.T) {
	for _, ok := range []string{"a", "knative-broker-ns-default", "knative-messaging-kafka.ns.orders", "A_b-c.9", strings.Repeat("x", 249)} {
		if err := contractbuild.ValidTopicName(ok); err != nil {
			t.Errorf("ValidTopicName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a b", "ä", "a/b", "a:b", strings.Repeat("x", 250)} {
		if err := contractbuild.ValidTopicName(bad); err == nil {
			t.Errorf("ValidTopicName(%q) = nil, want an error", bad)
		}
	}
}

func TestZeroNameTemplatesGiveOnlyRecordedNames(t *testing.T) {
	var names contractbuild.NameTemplates
	if topic, err := names.BrokerTopic(broker()); err == nil {
		t.Errorf("the zero NameTemplates named a topic %q", topic)
	}
	if group, err := names.TriggerConsumerGroup(trigger()); err == nil {
		t.Errorf("the zero NameTemplates named a group %q", group)
	}
	b := broker()
	b.Status.Annotations = map[string]string{contractbuild.TopicStatusAnnotation: "recorded"}
	topic, err := names.BrokerTopic(b)
	check(t, "BrokerTopic", topic, err, "recorded")
	b.Annotations = map[string]string{eventing.ExternalTopicAnnotation: "existing"}
	topic, err = names.BrokerTopic(b)
	check(t, "BrokerTopic", topic, err, "existing")
}

func mustParse(t *testing.T, data map[string]string) contractbuild.NameTemplates {
	t.Helper()
	names, err := contractbuild.ParseNameTemplates(data)
	if err != nil {
		t.Fatalf("ParseNameTemplates(%v): %v", data, err)
	}
	return names
}

func check(t *testing.T, what, got string, err error, want string) {
	t.Helper()
	if err != nil || got != want {
		t.Errorf("%s = %q, %v; want %q", what, got, err, want)
	}
}
