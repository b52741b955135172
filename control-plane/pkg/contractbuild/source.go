package contractbuild

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/ptr"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

// SourceResource is ks's contract entry: a resource without an ingress that reads spec.topics and
// whose one egress (UID = the source's UID) delivers every record, converted to a CloudEvent, to
// the resolved sink, discarding the sink's replies as Knative's Kafka source does. deadLetter is
// the resolved dead-letter sink, nil for none. The egress has the source's consumer group, order
// and initial offset, and spec.delivery's retry settings (Knative's Kafka source defaults without
// one). Its Net holds spec.net's Secret key references (SourceNet), never their values. It fails
// as CheckSource does, and without a sink.
func SourceResource(ks *sourcesv1beta1.KafkaSource, sink, deadLetter *apis.URL) (contract.Resource, error) {
	p, err := parseSource(ks)
	if err != nil {
		return contract.Resource{}, err
	}
	if sink == nil || sink.IsEmpty() {
		return contract.Resource{}, errors.New("source has no resolved sink")
	}
	e := contract.Egress{
		UID:           string(ks.UID),
		Kind:          contract.KindKafkaSource,
		Namespace:     ks.Namespace,
		Name:          ks.Name,
		ConsumerGroup: ks.Spec.ConsumerGroup,
		Destination:   sink.String(),
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
		Delivery:      p.delivery,
		Order:         p.order,
		InitialOffset: p.offset,
	}
	if deadLetter != nil {
		e.DeadLetter = deadLetter.String()
	}
	return contract.Resource{
		UID:              string(ks.UID),
		Kind:             contract.KindKafkaSource,
		Namespace:        ks.Namespace,
		Name:             ks.Name,
		Topics:           slices.Clone(ks.Spec.Topics),
		Source:           p.conversion,
		BootstrapServers: slices.Clone(ks.Spec.BootstrapServers),
		Net:              SourceNet(ks),
		Egresses:         []contract.Egress{e},
	}, nil
}

// CheckSource reports why ks cannot be consumed whatever its sink resolves to — no topics, servers or consumer group, an unknown key type,
// ordering or initial offset, an invalid delivery spec — or nil when it can. Whether the Secrets
// of spec.net hold usable credentials is not its concern: see kafka.Credentials.
func CheckSource(ks *sourcesv1beta1.KafkaSource) error {
	_, err := parseSource(ks)
	return err
}

// sourceParts is what the spec of a KafkaSource resolves to, before its sink is known.
type sourceParts struct {
	conversion *contract.Source
	delivery   contract.Delivery
	order      contract.DeliveryOrder
	offset     contract.InitialOffset
}

func parseSource(ks *sourcesv1beta1.KafkaSource) (sourceParts, error) {
	var p sourceParts
	if len(ks.Spec.Topics) == 0 || len(ks.Spec.BootstrapServers) == 0 {
		return p, errors.New("source needs spec.topics and spec.bootstrapServers")
	}
	if ks.Spec.ConsumerGroup == "" {
		return p, errors.New("source has no spec.consumerGroup")
	}
	var err error
	if p.conversion, err = sourceConversion(ks); err != nil {
		return p, err
	}
	delivery := ks.Spec.Delivery
	if delivery == nil {
		delivery = sourceDefaultDelivery()
	}
	if p.delivery, err = MergeDelivery(delivery, nil); err != nil {
		return p, err
	}
	if p.order, err = SourceOrder(ks); err != nil {
		return p, err
	}
	p.offset, err = SourceInitialOffset(ks)
	return p, err
}

// sourceConversion says how ks's records become CloudEvents: the event source prefix, the key
// type from the key-type label (string when unset) and ceOverrides' extensions.
func sourceConversion(ks *sourcesv1beta1.KafkaSource) (*contract.Source, error) {
	keyType := contract.KeyString
	if v := ks.Labels[sourcesv1beta1.KafkaKeyTypeLabel]; v != "" {
		if !slices.Contains(sourcesv1beta1.KafkaKeyTypes, v) {
			return nil, fmt.Errorf("label %s must be one of %v, got %q", sourcesv1beta1.KafkaKeyTypeLabel, sourcesv1beta1.KafkaKeyTypes, v)
		}
		keyType = contract.KeyType(v)
	}
	s := &contract.Source{EventSource: sourcesv1beta1.KafkaEventSource(ks.Namespace, ks.Name), KeyType: keyType}
	if o := ks.Spec.CloudEventOverrides; o != nil && len(o.Extensions) > 0 {
		s.Extensions = maps.Clone(o.Extensions)
	}
	return s, nil
}

// sourceDefaultDelivery is the delivery of a KafkaSource without spec.delivery: ten retries,
// exponential from 300 ms, 600 s per attempt — what Knative's Kafka source applies, so a source
// moved over keeps retrying as before. A source with spec.delivery gets exactly what it says.
func sourceDefaultDelivery() *eventingduckv1.DeliverySpec {
	return &eventingduckv1.DeliverySpec{
		Retry:         ptr.Int32(10),
		BackoffPolicy: new(eventingduckv1.BackoffPolicyExponential),
		BackoffDelay:  ptr.String("PT0.3S"),
		Timeout:       ptr.String("PT600S"),
	}
}

// SourceOrder reads spec.ordering: ordered (also when unset, the default), unordered or key-ordered.
func SourceOrder(ks *sourcesv1beta1.KafkaSource) (contract.DeliveryOrder, error) {
	if ks.Spec.Ordering == nil {
		return contract.Ordered, nil
	}
	switch o := *ks.Spec.Ordering; o {
	case sourcesv1beta1.Ordered:
		return contract.Ordered, nil
	case sourcesv1beta1.Unordered:
		return contract.Unordered, nil
	case sourcesv1beta1.KeyOrdered:
		return contract.KeyOrdered, nil
	default:
		return "", fmt.Errorf("spec.ordering must be %q, %q or %q, got %q",
			sourcesv1beta1.Ordered, sourcesv1beta1.Unordered, sourcesv1beta1.KeyOrdered, o)
	}
}

// SourceInitialOffset reads spec.initialOffset: latest (also when unset, the default) or earliest.
func SourceInitialOffset(ks *sourcesv1beta1.KafkaSource) (contract.InitialOffset, error) {
	switch o := ks.Spec.InitialOffset; o {
	case "", sourcesv1beta1.OffsetLatest:
		return contract.OffsetLatest, nil
	case sourcesv1beta1.OffsetEarliest:
		return contract.OffsetEarliest, nil
	default:
		return "", fmt.Errorf("spec.initialOffset must be %q or %q, got %q", sourcesv1beta1.OffsetEarliest, sourcesv1beta1.OffsetLatest, o)
	}
}

// SourceNet is ks's spec.net reduced to Secret key references (Secrets in ks's namespace); nil
// when spec.net enables nothing and references nothing. References in a part that is not enabled
// are kept: as in Knative's Kafka source, they must name existing keys all the same.
func SourceNet(ks *sourcesv1beta1.KafkaSource) *kafkaconn.Net {
	in := ks.Spec.Net
	n := kafkaconn.Net{
		SASL: kafkaconn.NetSASL{
			Enable:   in.SASL.Enable,
			User:     keyRef(in.SASL.User),
			Password: keyRef(in.SASL.Password),
			Type:     keyRef(in.SASL.Type),
		},
		TLS: kafkaconn.NetTLS{
			Enable: in.TLS.Enable,
			Cert:   keyRef(in.TLS.Cert),
			Key:    keyRef(in.TLS.Key),
			CACert: keyRef(in.TLS.CACert),
		},
	}
	if n == (kafkaconn.Net{}) {
		return nil
	}
	return &n
}

// keyRef is the reference of v; the zero KeyRef when v names no Secret.
func keyRef(v sourcesv1beta1.SecretValueFromSource) kafkaconn.KeyRef {
	if v.SecretKeyRef == nil || v.SecretKeyRef.Name == "" {
		return kafkaconn.KeyRef{}
	}
	return kafkaconn.KeyRef{Secret: v.SecretKeyRef.Name, Key: v.SecretKeyRef.Key}
}
