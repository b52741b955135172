package v1beta1

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// KafkaSource reads Kafka topics with one consumer group and sends every record to its sink as a
// CloudEvent: a record that already is a CloudEvent passes through, any other becomes an event of
// type KafkaEventType whose source names the KafkaSource and the topic.
type KafkaSource struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user asks for.
	Spec KafkaSourceSpec `json:"spec,omitempty"`

	// Status is what the control plane last observed. It may be out of date.
	// +optional
	Status KafkaSourceStatus `json:"status,omitempty"`
}

// KafkaSourceSpec is the desired state of a KafkaSource. Its JSON is that of Knative's Kafka
// source, so manifests written for it are accepted unchanged.
type KafkaSourceSpec struct {
	// Consumers is the number of consumers the source asks for. Defaults to 1. knkafka's
	// dispatcher replicas share every consumer group, so this is kept for compatibility (and the
	// scale subresource) rather than acted on.
	// +optional
	Consumers *int32 `json:"consumers,omitempty"`

	// BootstrapServers are the Kafka brokers to connect to. Required.
	BootstrapServers []string `json:"bootstrapServers"`

	// Net configures SASL and TLS towards Kafka.
	// +optional
	Net KafkaNetSpec `json:"net,omitempty"`

	// Topics are the topics to read. Required.
	Topics []string `json:"topics"`

	// ConsumerGroup is the Kafka consumer group that tracks the source's offsets. Defaults to
	// "knative-kafka-source-<random UUID>"; immutable.
	// +optional
	ConsumerGroup string `json:"consumerGroup,omitempty"`

	// InitialOffset is where the consumer group starts while it has no committed offset:
	// earliest or latest (the default).
	// +optional
	InitialOffset Offset `json:"initialOffset,omitempty"`

	// Delivery is the retry policy and dead-letter sink of deliveries to the sink.
	// +optional
	Delivery *eventingduckv1.DeliverySpec `json:"delivery,omitempty"`

	// Ordering is how deliveries are ordered: ordered (the default, one event at a time per
	// partition), unordered, or key-ordered (in order per record key, in parallel across keys).
	// +optional
	Ordering *DeliveryOrdering `json:"ordering,omitempty"`

	// SourceSpec carries spec.sink and spec.ceOverrides.
	duckv1.SourceSpec `json:",inline"`
}

// KafkaNetSpec is how the source authenticates to Kafka and encrypts the connection.
type KafkaNetSpec struct {
	SASL KafkaSASLSpec `json:"sasl,omitempty"`
	TLS  KafkaTLSSpec  `json:"tls,omitempty"`
}

// KafkaSASLSpec configures SASL authentication; each value comes from a Secret key.
type KafkaSASLSpec struct {
	Enable bool `json:"enable,omitempty"`
	// User is the SASL user name.
	// +optional
	User SecretValueFromSource `json:"user,omitempty"`
	// Password is the SASL password.
	// +optional
	Password SecretValueFromSource `json:"password,omitempty"`
	// Type is the SASL mechanism: PLAIN (the default), SCRAM-SHA-256 or SCRAM-SHA-512.
	// +optional
	Type SecretValueFromSource `json:"type,omitempty"`
}

// KafkaTLSSpec configures TLS; each value comes from a Secret key.
type KafkaTLSSpec struct {
	Enable bool `json:"enable,omitempty"`
	// Cert is the client certificate.
	// +optional
	Cert SecretValueFromSource `json:"cert,omitempty"`
	// Key is the client certificate's private key.
	// +optional
	Key SecretValueFromSource `json:"key,omitempty"`
	// CACert is the CA certificate that signed the brokers' certificates.
	// +optional
	CACert SecretValueFromSource `json:"caCert,omitempty"`
}

// SecretValueFromSource names the Secret key a value is read from.
type SecretValueFromSource struct {
	// SecretKeyRef selects a key of a Secret in the source's namespace.
	// +optional
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// Offset is where a consumer group without committed offsets starts.
type Offset string

// Initial offsets.
const (
	// OffsetEarliest starts at the beginning of each partition.
	OffsetEarliest Offset = "earliest"
	// OffsetLatest starts at the end of each partition: only records written from then on.
	OffsetLatest Offset = "latest"
)

// DeliveryOrdering is how deliveries to the sink are ordered.
type DeliveryOrdering string

// Delivery orderings.
const (
	// Ordered delivers one event at a time per partition, waiting for the sink's answer.
	Ordered DeliveryOrdering = "ordered"
	// Unordered delivers several events at once, in no particular order.
	Unordered DeliveryOrdering = "unordered"
	// KeyOrdered delivers in parallel across record keys and in order within a key (knkafka's;
	// Knative's Kafka source does not have it).
	KeyOrdered DeliveryOrdering = "key-ordered"
)

const (
	// KafkaEventType is the CloudEvents type of a record that is not a CloudEvent itself.
	KafkaEventType = "dev.knative.kafka.event"

	// KafkaKeyTypeLabel is the label that says how record keys are read: one of KafkaKeyTypes.
	KafkaKeyTypeLabel = "kafkasources.sources.knative.dev/key-type"
)

// KafkaKeyTypes are the values KafkaKeyTypeLabel may take; without the label keys are strings.
var KafkaKeyTypes = []string{"string", "int", "float", "byte-array"}

// KafkaEventSource is the CloudEvents source prefix of the KafkaSource namespace/name; the events
// made from the records of a topic have source KafkaEventSource(...) + "#" + topic.
func KafkaEventSource(namespace, name string) string {
	return fmt.Sprintf("/apis/v1/namespaces/%s/kafkasources/%s", namespace, name)
}

// KafkaSourceStatus is the observed state of a KafkaSource: Knative's source status (conditions,
// observedGeneration, sinkUri, ceAttributes) and the consumer count of the scale subresource.
type KafkaSourceStatus struct {
	duckv1.SourceStatus `json:",inline"`

	// Consumers is the number of consumers running in the consumer group (the scale
	// subresource's status replicas).
	// +optional
	Consumers int32 `json:"consumers,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// KafkaSourceList is a list of KafkaSources.
type KafkaSourceList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaSource `json:"items"`
}

var (
	_ apis.Validatable   = (*KafkaSource)(nil)
	_ apis.Defaultable   = (*KafkaSource)(nil)
	_ apis.HasSpec       = (*KafkaSource)(nil)
	_ runtime.Object     = (*KafkaSource)(nil)
	_ kmeta.OwnerRefable = (*KafkaSource)(nil)
	_ duckv1.KRShaped    = (*KafkaSource)(nil)
)

// GetGroupVersionKind returns sources.knative.dev/v1beta1 KafkaSource.
func (*KafkaSource) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("KafkaSource")
}

// GetUntypedSpec returns the spec for code that handles any Knative resource.
func (ks *KafkaSource) GetUntypedSpec() any {
	return ks.Spec
}

// GetStatus returns the duck status (conditions and observed generation).
func (ks *KafkaSource) GetStatus() *duckv1.Status {
	return &ks.Status.Status
}

// SecurityEnabled reports whether the spec asks for SASL or TLS towards Kafka.
func (s *KafkaSourceSpec) SecurityEnabled() bool {
	return s.Net.SASL.Enable || s.Net.TLS.Enable
}
