// Package webhook builds knkafka's admission controllers: NewDefaultingController defaults
// KafkaChannels, KafkaSources and KafkaSinks, NewValidationController validates them and the Kafka
// annotations of Triggers (through Trigger, a wrapper that checks only what is ours to check). control-plane/cmd/webhook runs
// them with Knative's sharedmain.
//
// Knative webhooks update configurations that already exist: the deployment must create the Secret
// SecretName, the MutatingWebhookConfiguration DefaultingWebhookName and the
// ValidatingWebhookConfiguration ValidationWebhookName. The names are those of Knative's Kafka
// broker, so switching to knkafka takes over its webhook configurations instead of leaving them behind.
package webhook

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/webhook/resourcesemantics"
	"knative.dev/pkg/webhook/resourcesemantics/defaulting"
	"knative.dev/pkg/webhook/resourcesemantics/validation"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
)

const (
	// SecretName is the Secret holding the webhook's serving certificate.
	SecretName = "kafka-webhook-eventing-certs" //nolint:gosec // G101: a Secret's name, not a credential
	// DefaultingWebhookName is the MutatingWebhookConfiguration the defaulting controller keeps.
	DefaultingWebhookName = "defaulting.webhook.kafka.eventing.knative.dev"
	// ValidationWebhookName is the ValidatingWebhookConfiguration the validation controller keeps.
	ValidationWebhookName = "validation.webhook.kafka.eventing.knative.dev"
)

// NewDefaultingController returns the admission controller on /defaulting that defaults
// KafkaChannels (partitions, replication factor, retention, the subscribable duck annotation) and
// KafkaSources (consumer group, initial offset, consumers, ordering), and KafkaSinks (content
// mode). KafkaSources written as v1 reach it as v1beta1: the API server converts them (the versions share one schema).
func NewDefaultingController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	types := map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
		messagingv1beta1.SchemeGroupVersion.WithKind("KafkaChannel"): &messagingv1beta1.KafkaChannel{},
		sourcesv1beta1.SchemeGroupVersion.WithKind("KafkaSource"):    &sourcesv1beta1.KafkaSource{},
		eventingv1alpha1.SchemeGroupVersion.WithKind("KafkaSink"):    &eventingv1alpha1.KafkaSink{},
	}
	return defaulting.NewAdmissionController(ctx, DefaultingWebhookName, "/defaulting", types, withoutChange, true)
}

// NewValidationController returns the admission controller on /resource-validation that validates
// KafkaChannels, KafkaSources, KafkaSinks and the delivery-order annotation of Triggers. Unknown
// fields are tolerated so a Trigger written by a newer Knative still passes through.
func NewValidationController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	types := map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
		messagingv1beta1.SchemeGroupVersion.WithKind("KafkaChannel"): &messagingv1beta1.KafkaChannel{},
		sourcesv1beta1.SchemeGroupVersion.WithKind("KafkaSource"):    &sourcesv1beta1.KafkaSource{},
		eventingv1alpha1.SchemeGroupVersion.WithKind("KafkaSink"):    &eventingv1alpha1.KafkaSink{},
		eventingv1.SchemeGroupVersion.WithKind("Trigger"):            &Trigger{},
	}
	return validation.NewAdmissionController(ctx, ValidationWebhookName, "/resource-validation", types, withoutChange, false)
}

func withoutChange(ctx context.Context) context.Context { return ctx }
