package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Content modes of the records a KafkaSink writes, as the CloudEvents Kafka protocol binding
// names them.
const (
	// ModeBinary writes the event's attributes as ce_* headers and its data as the record value.
	ModeBinary = "binary"
	// ModeStructured writes the whole event as JSON (application/cloudevents+json) in the value.
	ModeStructured = "structured"
)

// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// KafkaSink is an Addressable whose events are written into one Kafka topic. Its address is a
// path on the shared sink ingress; any Kafka client can read the records.
type KafkaSink struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user asks for.
	Spec KafkaSinkSpec `json:"spec,omitempty"`

	// Status is what the control plane last observed. It may be out of date.
	// +optional
	Status KafkaSinkStatus `json:"status,omitempty"`
}

// KafkaSinkSpec is the desired state of a KafkaSink.
type KafkaSinkSpec struct {
	// Topic is the Kafka topic events are written to. Required; immutable.
	Topic string `json:"topic"`

	// NumPartitions is the number of partitions of the topic. With ReplicationFactor it makes the
	// sink own its topic: created with the sink and deleted with it. Without both, the topic must
	// already exist. Immutable.
	// +optional
	NumPartitions *int32 `json:"numPartitions,omitempty"`

	// ReplicationFactor is the replication factor of the topic; see NumPartitions. Immutable.
	// +optional
	ReplicationFactor *int16 `json:"replicationFactor,omitempty"`

	// BootstrapServers are the Kafka brokers the client first connects to (host:port).
	BootstrapServers []string `json:"bootstrapServers"`

	// ContentMode is ModeBinary (the default) or ModeStructured.
	// +optional
	ContentMode *string `json:"contentMode,omitempty"`

	// Auth names the Secret with the Kafka credentials, in the sink's namespace.
	// +optional
	Auth *Auth `json:"auth,omitempty"`
}

// Auth holds the reference to the Secret with the Kafka credentials.
type Auth struct {
	// Secret references the Secret.
	// +optional
	Secret *Secret `json:"secret,omitempty"`
}

// Secret wraps the reference to a Secret.
type Secret struct {
	// Ref names the Secret.
	// +optional
	Ref *SecretReference `json:"ref,omitempty"`
}

// SecretReference names a Secret in the sink's namespace. Its keys are those of every knkafka
// auth Secret (protocol, sasl.mechanism, user, password, ca.crt, user.crt, user.key, ...).
type SecretReference struct {
	// Name is the Secret's name.
	Name string `json:"name"`
}

// KafkaSinkStatus is the observed state of a KafkaSink: conditions and address.
type KafkaSinkStatus struct {
	duckv1.Status `json:",inline"`

	// AddressStatus is status.address and status.addresses: where to POST events.
	duckv1.AddressStatus `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// KafkaSinkList is a list of KafkaSinks.
type KafkaSinkList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaSink `json:"items"`
}

var (
	_ apis.Validatable   = (*KafkaSink)(nil)
	_ apis.Defaultable   = (*KafkaSink)(nil)
	_ apis.HasSpec       = (*KafkaSink)(nil)
	_ runtime.Object     = (*KafkaSink)(nil)
	_ kmeta.OwnerRefable = (*KafkaSink)(nil)
	_ duckv1.KRShaped    = (*KafkaSink)(nil)
)

// GetGroupVersionKind returns eventing.knative.dev/v1alpha1 KafkaSink.
func (*KafkaSink) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("KafkaSink")
}

// GetUntypedSpec returns the spec for code that handles any Knative resource.
func (ks *KafkaSink) GetUntypedSpec() any {
	return ks.Spec
}

// GetStatus returns the duck status (conditions and observed generation).
func (ks *KafkaSink) GetStatus() *duckv1.Status {
	return &ks.Status.Status
}

// OwnsTopic reports whether the sink creates its topic and deletes it with itself: both
// numPartitions and replicationFactor are set.
func (s *KafkaSinkSpec) OwnsTopic() bool {
	return s.NumPartitions != nil && s.ReplicationFactor != nil
}

// AuthSecretName is the name of the auth Secret; empty for none.
func (s *KafkaSinkSpec) AuthSecretName() string {
	if s.Auth == nil || s.Auth.Secret == nil || s.Auth.Secret.Ref == nil {
		return ""
	}
	return s.Auth.Secret.Ref.Name
}

// Mode is the content mode: spec.contentMode, ModeBinary when unset (as the webhook defaults it).
func (s *KafkaSinkSpec) Mode() string {
	if s.ContentMode == nil || *s.ContentMode == "" {
		return ModeBinary
	}
	return *s.ContentMode
}
