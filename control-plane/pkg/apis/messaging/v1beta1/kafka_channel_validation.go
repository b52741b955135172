package v1beta1

import (
	"context"
	"fmt"

	"knative.dev/eventing/pkg/apis/eventing"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/kmp"

	kafkaeventing "knkafka.dev/control-plane/pkg/apis/eventing"
)

// Validate checks a KafkaChannel on admission: the spec, the scope annotation, the delivery-order
// annotation (the default order of the channel's Subscriptions) and, on update, that the topic's
// shape is unchanged and that only Knative's eventing controller edits the subscribers.
func (kc *KafkaChannel) Validate(ctx context.Context) *apis.FieldError {
	if feature.FromContext(ctx) == nil {
		// Without the config-features ConfigMap in ctx, judge the delivery spec by Knative's defaults.
		ctx = feature.ToContext(ctx, feature.FromContextOrDefaults(ctx))
	}
	errs := kc.Spec.Validate(ctx).ViaField("spec")

	if scope, ok := kc.Annotations[eventing.ScopeAnnotationKey]; ok &&
		scope != eventing.ScopeNamespace && scope != eventing.ScopeCluster {
		fe := apis.ErrInvalidValue(scope, "metadata.annotations["+eventing.ScopeAnnotationKey+"]")
		fe.Details = fmt.Sprintf("expected %q or %q", eventing.ScopeNamespace, eventing.ScopeCluster)
		errs = errs.Also(fe)
	}
	errs = errs.Also(kafkaeventing.ValidateDeliveryOrderAnnotation(kc.Annotations))

	if apis.IsInUpdate(ctx) {
		if original, ok := apis.GetBaseline(ctx).(*KafkaChannel); ok {
			errs = errs.Also(kc.CheckImmutableFields(ctx, original))
			errs = errs.Also(kc.CheckSubscribersChangeAllowed(ctx, original))
		}
	}
	return errs
}

// Validate checks the topic shape, the retention, the delivery spec and that every subscriber has
// somewhere to send events or replies.
func (s *KafkaChannelSpec) Validate(ctx context.Context) *apis.FieldError {
	var errs *apis.FieldError
	if s.NumPartitions <= 0 {
		fe := apis.ErrInvalidValue(s.NumPartitions, "numPartitions")
		fe.Details = "the topic needs at least one partition"
		errs = errs.Also(fe)
	}
	if s.ReplicationFactor <= 0 {
		fe := apis.ErrInvalidValue(s.ReplicationFactor, "replicationFactor")
		fe.Details = "the topic needs at least one replica"
		errs = errs.Also(fe)
	}
	if _, err := s.ParseRetentionDuration(); err != nil {
		fe := apis.ErrInvalidValue(s.RetentionDuration, "retentionDuration")
		fe.Details = err.Error()
		errs = errs.Also(fe)
	}
	errs = errs.Also(s.Delivery.Validate(ctx).ViaField("delivery"))
	for i, sub := range s.Subscribers {
		if sub.SubscriberURI == nil && sub.ReplyURI == nil {
			fe := apis.ErrMissingOneOf("subscriberUri", "replyUri")
			errs = errs.Also(fe.ViaFieldIndex("subscribers", i))
		}
	}
	return errs
}

// CheckImmutableFields rejects an update that changes numPartitions or replicationFactor: the
// topic already exists with its shape, and we never re-partition or re-replicate it.
func (kc *KafkaChannel) CheckImmutableFields(_ context.Context, original *KafkaChannel) *apis.FieldError {
	if original == nil {
		return nil
	}
	var errs *apis.FieldError
	if original.Spec.NumPartitions != kc.Spec.NumPartitions {
		errs = errs.Also(immutable("numPartitions", original.Spec.NumPartitions, kc.Spec.NumPartitions))
	}
	if original.Spec.ReplicationFactor != kc.Spec.ReplicationFactor {
		errs = errs.Also(immutable("replicationFactor", original.Spec.ReplicationFactor, kc.Spec.ReplicationFactor))
	}
	return errs.ViaField("spec")
}

func immutable(field string, before, after any) *apis.FieldError {
	return &apis.FieldError{
		Message: "Immutable fields changed (-old +new)",
		Paths:   []string{field},
		Details: fmt.Sprintf("-%v +%v", before, after),
	}
}

// CheckSubscribersChangeAllowed rejects a change of spec.subscribers by anyone but Knative's
// eventing controller, which owns that list on behalf of Subscriptions.
func (kc *KafkaChannel) CheckSubscribersChangeAllowed(ctx context.Context, original *KafkaChannel) *apis.FieldError {
	if original == nil {
		return nil
	}
	user := ""
	if info := apis.GetUserInfo(ctx); info != nil {
		user = info.Username
	}
	if user == EventingControllerServiceAccount {
		return nil
	}
	diff, err := kmp.ShortDiff(original.Spec.Subscribers, kc.Spec.Subscribers)
	if err != nil {
		return &apis.FieldError{Message: "Failed to diff spec.subscribers", Paths: []string{"spec.subscribers"}, Details: err.Error()}
	}
	if diff == "" {
		return nil
	}
	return &apis.FieldError{
		Message: fmt.Sprintf("spec.subscribers changed by user %q, which is not the %s service account", user, EventingControllerServiceAccount),
		Paths:   []string{"spec.subscribers"},
		Details: diff,
	}
}

// EventingControllerServiceAccount is the user Knative's eventing controller runs as, the only one
// allowed to change spec.subscribers.
const EventingControllerServiceAccount = "system:serviceaccount:knative-eventing:eventing-controller"
