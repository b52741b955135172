package contractbuild

import (
	"fmt"

	"github.com/rickb777/date/period"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"

	"knkafka.dev/control-plane/pkg/contract"
)

// MergeDelivery resolves the retry settings of a Trigger: each field of the trigger's delivery
// spec that is set wins over the broker's, field by field (retry, backoffPolicy, backoffDelay,
// timeout, retryAfterMax). Durations are ISO-8601 ("PT0.5S"). Either spec may be nil. The
// dead-letter sink is not merged here: it is a reference the reconciler resolves to a URL.
func MergeDelivery(trigger, broker *eventingduckv1.DeliverySpec) (contract.Delivery, error) {
	var d contract.Delivery
	if r := pick(trigger, broker, func(s *eventingduckv1.DeliverySpec) *int32 { return s.Retry }); r != nil {
		if *r < 0 {
			return contract.Delivery{}, fmt.Errorf("delivery.retry must not be negative, got %d", *r)
		}
		d.Retry = *r
	}
	if p := pick(trigger, broker, func(s *eventingduckv1.DeliverySpec) *eventingduckv1.BackoffPolicyType { return s.BackoffPolicy }); p != nil {
		switch *p {
		case eventingduckv1.BackoffPolicyLinear:
			d.BackoffPolicy = contract.BackoffLinear
		case eventingduckv1.BackoffPolicyExponential:
			d.BackoffPolicy = contract.BackoffExponential
		default:
			return contract.Delivery{}, fmt.Errorf("delivery.backoffPolicy must be linear or exponential, got %q", *p)
		}
	}
	for _, f := range []struct {
		field string
		get   func(*eventingduckv1.DeliverySpec) *string
		into  *contract.Duration
	}{
		{"backoffDelay", func(s *eventingduckv1.DeliverySpec) *string { return s.BackoffDelay }, &d.BackoffDelay},
		{"timeout", func(s *eventingduckv1.DeliverySpec) *string { return s.Timeout }, &d.Timeout},
		{"retryAfterMax", func(s *eventingduckv1.DeliverySpec) *string { return s.RetryAfterMax }, &d.RetryAfterMax},
	} {
		v := pick(trigger, broker, f.get)
		if v == nil {
			continue
		}
		p, err := period.Parse(*v)
		if err != nil {
			return contract.Delivery{}, fmt.Errorf("delivery.%s must be an ISO-8601 duration: %w", f.field, err)
		}
		dur := p.DurationApprox()
		if dur < 0 {
			return contract.Delivery{}, fmt.Errorf("delivery.%s must not be negative, got %q", f.field, *v)
		}
		*f.into = contract.Duration(dur)
	}
	return d, nil
}

// pick returns the trigger's field if set, else the broker's.
func pick[T any](trigger, broker *eventingduckv1.DeliverySpec, get func(*eventingduckv1.DeliverySpec) *T) *T {
	if trigger != nil {
		if v := get(trigger); v != nil {
			return v
		}
	}
	if broker != nil {
		return get(broker)
	}
	return nil
}
