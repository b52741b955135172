package contractbuild

import (
	"errors"
	"maps"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"knkafka.dev/control-plane/pkg/contract"
)

// TriggerEgress is t's contract entry under broker b: its consumer group (see
// NameTemplates.TriggerConsumerGroup), the resolved subscriber
// and dead-letter sink (nil for none), replies back onto the broker topic, the delivery settings
// of t merged over b's, the order from the annotation and the filter.
func TriggerEgress(t *eventingv1.Trigger, b *eventingv1.Broker, group string, subscriber, deadLetter *apis.URL) (contract.Egress, error) {
	if subscriber == nil {
		return contract.Egress{}, errors.New("trigger has no resolved subscriber")
	}
	var brokerDelivery, triggerDelivery *eventingduckv1.DeliverySpec
	if b != nil {
		brokerDelivery = b.Spec.Delivery
	}
	triggerDelivery = t.Spec.Delivery
	delivery, err := MergeDelivery(triggerDelivery, brokerDelivery)
	if err != nil {
		return contract.Egress{}, err
	}
	order, err := TriggerOrder(t)
	if err != nil {
		return contract.Egress{}, err
	}
	e := contract.Egress{
		UID:           string(t.UID),
		Kind:          contract.KindTrigger,
		Namespace:     t.Namespace,
		Name:          t.Name,
		ConsumerGroup: group,
		Destination:   subscriber.String(),
		Reply:         contract.Reply{Kind: contract.ReplyTopic},
		Delivery:      delivery,
		Order:         order,
		Filter:        triggerFilter(t),
	}
	if deadLetter != nil {
		e.DeadLetter = deadLetter.String()
	}
	return e, nil
}

// triggerFilter copies both filter forms; the data plane applies Knative's rule that the
// SubscriptionsAPI filters win when both are set.
func triggerFilter(t *eventingv1.Trigger) *contract.Filter {
	var f contract.Filter
	if t.Spec.Filter != nil && len(t.Spec.Filter.Attributes) > 0 {
		f.Attributes = maps.Clone(map[string]string(t.Spec.Filter.Attributes))
	}
	for i := range t.Spec.Filters {
		f.Filters = append(f.Filters, *t.Spec.Filters[i].DeepCopy())
	}
	if f.Attributes == nil && f.Filters == nil {
		return nil
	}
	return &f
}
