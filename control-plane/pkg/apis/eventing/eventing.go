// Package eventing holds the names knkafka shares with Knative Eventing's Broker, Trigger,
// Subscription and KafkaChannel: the broker class, the annotations users put on those objects,
// and the one reading of the delivery-order annotation (ParseDeliveryOrder) that admission
// (ValidateDeliveryOrderAnnotation) and contract building both use.
package eventing

import (
	"fmt"
	"strings"

	"knative.dev/pkg/apis"
)

const (
	// BrokerClass is the eventing.knative.dev/broker.class annotation value of Brokers we reconcile.
	BrokerClass = "Kafka"

	// ExternalTopicAnnotation on a Broker names an existing topic to use; we never create or delete it.
	ExternalTopicAnnotation = "kafka.eventing.knative.dev/external.topic"

	// DeliveryOrderAnnotation chooses how events are delivered to a subscriber. On a Trigger it
	// defaults to DeliveryOrderUnordered, as in Knative's Kafka broker. On a Subscription of a
	// KafkaChannel, and on the KafkaChannel itself as the default of its Subscriptions, it is
	// knkafka's extension: without it channel subscriptions stay DeliveryOrderOrdered, as in
	// Knative's Kafka channel. Its value is read case-insensitively (ParseDeliveryOrder).
	DeliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"

	// DeliveryOrderOrdered delivers one event at a time per partition, in offset order.
	DeliveryOrderOrdered = "ordered"

	// DeliveryOrderUnordered delivers several events of a partition at once, in no particular order.
	DeliveryOrderUnordered = "unordered"

	// DeliveryOrderKeyOrdered delivers in parallel across record keys (the partitionkey
	// extension) and one event at a time, in offset order, within a key. It is knkafka's
	// extension: Knative's Kafka broker does not accept it.
	DeliveryOrderKeyOrdered = "key-ordered"
)

// DeliveryOrders are the values DeliveryOrderAnnotation accepts, in their canonical spelling.
var DeliveryOrders = []string{DeliveryOrderOrdered, DeliveryOrderUnordered, DeliveryOrderKeyOrdered}

// ParseDeliveryOrder reads a DeliveryOrderAnnotation value case-insensitively, as Knative's Kafka
// broker does ("Ordered" and "ORDERED" mean ordered; surrounding spaces are not trimmed, as
// there), and returns its canonical spelling: DeliveryOrderOrdered, DeliveryOrderUnordered or
// DeliveryOrderKeyOrdered. Any other value is an error naming the accepted ones.
func ParseDeliveryOrder(value string) (string, error) {
	switch v := strings.ToLower(value); v {
	case DeliveryOrderOrdered, DeliveryOrderUnordered, DeliveryOrderKeyOrdered:
		return v, nil
	}
	return "", fmt.Errorf("annotation %s must be %q, %q or %q (in any case), got %q", DeliveryOrderAnnotation,
		DeliveryOrderOrdered, DeliveryOrderUnordered, DeliveryOrderKeyOrdered, value)
}

// ValidateDeliveryOrderAnnotation checks the annotations of a Trigger or KafkaChannel: when
// DeliveryOrderAnnotation is present, ParseDeliveryOrder must accept it. The error's path is
// metadata.annotations[kafka.eventing.knative.dev/delivery.order].
func ValidateDeliveryOrderAnnotation(annotations map[string]string) *apis.FieldError {
	value, ok := annotations[DeliveryOrderAnnotation]
	if !ok {
		return nil
	}
	if _, err := ParseDeliveryOrder(value); err == nil {
		return nil
	}
	fe := apis.ErrInvalidValue(value, "metadata.annotations["+DeliveryOrderAnnotation+"]")
	fe.Details = fmt.Sprintf("expected %q, %q or %q, in any case", DeliveryOrderOrdered, DeliveryOrderUnordered, DeliveryOrderKeyOrdered)
	return fe
}
