package v1beta1

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/pkg/apis"
)

// Validate checks a KafkaSource on admission: the spec, the key-type label and, on update, that
// the consumer group is unchanged.
func (ks *KafkaSource) Validate(ctx context.Context) *apis.FieldError {
	if feature.FromContext(ctx) == nil {
		// Without the config-features ConfigMap in ctx, judge the delivery spec by Knative's defaults.
		ctx = feature.ToContext(ctx, feature.FromContextOrDefaults(ctx))
	}
	errs := ks.Spec.Validate(ctx).ViaField("spec")
	if kt, ok := ks.Labels[KafkaKeyTypeLabel]; ok && !slices.Contains(KafkaKeyTypes, kt) {
		fe := apis.ErrInvalidValue(kt, "metadata.labels["+KafkaKeyTypeLabel+"]")
		fe.Details = "expected one of: " + strings.Join(KafkaKeyTypes, ", ")
		errs = errs.Also(fe)
	}
	if apis.IsInUpdate(ctx) {
		if original, ok := apis.GetBaseline(ctx).(*KafkaSource); ok {
			errs = errs.Also(ks.CheckImmutableFields(ctx, original))
		}
	}
	return errs
}

// Validate checks that there is something to read (topics, bootstrap servers), somewhere to send
// it (the sink), and that the enumerations and the delivery spec hold known values. SASL and TLS
// are admitted: the reconciler reports that they are not supported yet, so the same manifests
// are accepted once they are.
func (s *KafkaSourceSpec) Validate(ctx context.Context) *apis.FieldError {
	errs := s.SourceSpec.Validate(ctx)
	errs = errs.Also(nonEmptyList("topics", s.Topics))
	errs = errs.Also(nonEmptyList("bootstrapServers", s.BootstrapServers))
	switch s.InitialOffset {
	case "", OffsetEarliest, OffsetLatest: // empty is the default, latest
	default:
		fe := apis.ErrInvalidValue(s.InitialOffset, "initialOffset")
		fe.Details = fmt.Sprintf("expected %q or %q", OffsetEarliest, OffsetLatest)
		errs = errs.Also(fe)
	}
	if s.Ordering != nil {
		switch *s.Ordering {
		case Ordered, Unordered, KeyOrdered:
		default:
			fe := apis.ErrInvalidValue(*s.Ordering, "ordering")
			fe.Details = fmt.Sprintf("expected one of: %s, %s, %s", Ordered, Unordered, KeyOrdered)
			errs = errs.Also(fe)
		}
	}
	if s.Consumers != nil && *s.Consumers < 0 {
		errs = errs.Also(apis.ErrInvalidValue(*s.Consumers, "consumers"))
	}
	return errs.Also(s.Delivery.Validate(ctx).ViaField("delivery"))
}

// nonEmptyList requires at least one entry and no empty entry.
func nonEmptyList(field string, values []string) *apis.FieldError {
	if len(values) == 0 {
		return apis.ErrMissingField(field)
	}
	var errs *apis.FieldError
	for i, v := range values {
		if strings.TrimSpace(v) == "" {
			errs = errs.Also(apis.ErrInvalidArrayValue(v, field, i))
		}
	}
	return errs
}

// CheckImmutableFields rejects an update that changes spec.consumerGroup: the committed offsets
// belong to the group, and a new name would silently restart from initialOffset.
func (ks *KafkaSource) CheckImmutableFields(_ context.Context, original *KafkaSource) *apis.FieldError {
	if original == nil || original.Spec.ConsumerGroup == ks.Spec.ConsumerGroup {
		return nil
	}
	return &apis.FieldError{
		Message: "Immutable fields changed (-old +new)",
		Paths:   []string{"spec.consumerGroup"},
		Details: fmt.Sprintf("-%s +%s", original.Spec.ConsumerGroup, ks.Spec.ConsumerGroup),
	}
}
