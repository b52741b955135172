package contractbuild

import (
	"fmt"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
)

// TriggerOrder reads t's delivery.order annotation, case-insensitively (eventing.ParseDeliveryOrder):
// ordered, unordered, key-ordered, or absent (unordered, as in Knative's Kafka broker).
func TriggerOrder(t *eventingv1.Trigger) (contract.DeliveryOrder, error) {
	order, err := annotatedOrder(t.Annotations)
	if err != nil || order != "" {
		return order, err
	}
	return contract.Unordered, nil
}

// SubscriptionOrder is the delivery order of a Subscription of kc whose annotations are
// subscription (nil when its Subscription is not known): the Subscription's delivery.order
// annotation, else kc's (the channel-wide default), else ordered — what Knative's Kafka channel
// always does. Both annotations are read case-insensitively (eventing.ParseDeliveryOrder); an
// invalid one is an error naming the object that carries it, even when the other would decide.
func SubscriptionOrder(kc *messagingv1beta1.KafkaChannel, subscription map[string]string) (contract.DeliveryOrder, error) {
	own, err := annotatedOrder(subscription)
	if err != nil {
		return "", fmt.Errorf("subscription: %w", err)
	}
	channel, err := annotatedOrder(kc.Annotations)
	if err != nil {
		return "", fmt.Errorf("channel %s/%s: %w", kc.Namespace, kc.Name, err)
	}
	switch {
	case own != "":
		return own, nil
	case channel != "":
		return channel, nil
	default:
		return contract.Ordered, nil
	}
}

// annotatedOrder is the order the delivery.order annotation among annotations chooses; empty
// without the annotation.
func annotatedOrder(annotations map[string]string) (contract.DeliveryOrder, error) {
	v, ok := annotations[eventing.DeliveryOrderAnnotation]
	if !ok {
		return "", nil
	}
	canonical, err := eventing.ParseDeliveryOrder(v)
	if err != nil {
		return "", err
	}
	switch canonical {
	case eventing.DeliveryOrderOrdered:
		return contract.Ordered, nil
	case eventing.DeliveryOrderKeyOrdered:
		return contract.KeyOrdered, nil
	default:
		return contract.Unordered, nil
	}
}
