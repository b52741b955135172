package webhook

import (
	"context"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/webhook/resourcesemantics"

	"knkafka.dev/control-plane/pkg/apis/eventing"
)

// Trigger is a Knative Trigger as our validation webhook sees it: Validate checks only the Kafka
// annotations (Knative's own webhook validates the rest), and SetDefaults changes nothing.
type Trigger struct {
	eventingv1.Trigger `json:",inline"`
}

var (
	_ resourcesemantics.GenericCRD         = (*Trigger)(nil)
	_ resourcesemantics.VerbLimited        = (*Trigger)(nil)
	_ resourcesemantics.SubResourceLimited = (*Trigger)(nil)
)

// Validate checks the kafka.eventing.knative.dev/delivery.order annotation: ordered, unordered or
// key-ordered (ours), in any case.
func (t *Trigger) Validate(context.Context) *apis.FieldError {
	return eventing.ValidateDeliveryOrderAnnotation(t.Annotations)
}

// SetDefaults does nothing: Knative's webhook defaults Triggers.
func (t *Trigger) SetDefaults(context.Context) {}

// DeepCopyObject copies t as a *Trigger (the promoted method would return an *eventingv1.Trigger),
// so the webhook decodes requests into our wrapper rather than into a Trigger with Knative's full
// validation.
func (t *Trigger) DeepCopyObject() runtime.Object {
	return &Trigger{Trigger: *t.DeepCopy()}
}

// SupportedVerbs limits the webhook to creates and updates; deleting a Trigger is never refused.
func (t *Trigger) SupportedVerbs() []admissionregistrationv1.OperationType {
	return []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
}

// SupportedSubResources limits the webhook to the Trigger itself: status updates by Knative's
// controllers never carry a user's annotation change.
func (t *Trigger) SupportedSubResources() []string {
	return []string{""}
}
