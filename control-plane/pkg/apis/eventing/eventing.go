// Package eventing holds the names knkafka shares with Knative Eventing's Broker and Trigger: the
// broker class, the annotations users put on Brokers and Triggers, and the admission check of the
// Trigger delivery-order annotation (ValidateDeliveryOrderAnnotation).
package eventing

import (
	"fmt"

	"knative.dev/pkg/apis"
)

const (
	// BrokerClass is the eventing.knative.dev/broker.class annotation value of Brokers we reconcile.
	BrokerClass = "Kafka"

	// ExternalTopicAnnotation on a Broker names an existing topic to use; we never create or delete it.
	ExternalTopicAnnotation = "kafka.eventing.knative.dev/external.topic"

	// DeliveryOrderAnnotation on a Trigger chooses how its events are delivered: DeliveryOrderOrdered
	// or DeliveryOrderUnordered (the default when the annotation is absent).
	DeliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"

	// DeliveryOrderOrdered delivers one event at a time per partition, in offset order.
	DeliveryOrderOrdered = "ordered"

	// DeliveryOrderUnordered delivers several events of a partition at once, in no particular order.
	DeliveryOrderUnordered = "unordered"
)

// ValidateDeliveryOrderAnnotation checks a Trigger's annotations: when DeliveryOrderAnnotation is
// present it must be DeliveryOrderOrdered or DeliveryOrderUnordered, the values Knative's Kafka
// broker accepts, so a Trigger valid here stays valid there. The error's path is
// metadata.annotations[kafka.eventing.knative.dev/delivery.order].
func ValidateDeliveryOrderAnnotation(annotations map[string]string) *apis.FieldError {
	value, ok := annotations[DeliveryOrderAnnotation]
	if !ok || value == DeliveryOrderOrdered || value == DeliveryOrderUnordered {
		return nil
	}
	fe := apis.ErrInvalidValue(value, "metadata.annotations["+DeliveryOrderAnnotation+"]")
	fe.Details = fmt.Sprintf("expected %q or %q", DeliveryOrderOrdered, DeliveryOrderUnordered)
	return fe
}
