package v1beta1

import (
	"fmt"
	"time"

	"github.com/rickb777/date/period"
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

// KafkaChannel is a Knative Channel backed by one Kafka topic. Subscriptions to it are written into
// spec.subscribers by Knative's subscription reconciler; each is delivered in order per partition.
type KafkaChannel struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user (and Knative's subscription reconciler) asks for.
	Spec KafkaChannelSpec `json:"spec,omitempty"`

	// Status is what the control plane last observed. It may be out of date.
	// +optional
	Status KafkaChannelStatus `json:"status,omitempty"`
}

// KafkaChannelSpec is the desired state of a KafkaChannel: the shape of its topic plus the
// Channelable duck (subscribers and the default delivery of every subscription).
type KafkaChannelSpec struct {
	// NumPartitions is the number of partitions of the channel's topic. Defaults to 1; immutable.
	NumPartitions int32 `json:"numPartitions"`

	// ReplicationFactor is the replication factor of the channel's topic. Defaults to 1; immutable.
	ReplicationFactor int16 `json:"replicationFactor"`

	// RetentionDuration is how long the topic keeps records, as an ISO-8601 duration such as
	// "PT168H" or "P7D" (the default, one week). It becomes the topic's retention.ms.
	// +optional
	RetentionDuration string `json:"retentionDuration,omitempty"`

	// ChannelableSpec carries spec.subscribers and spec.delivery (the Channelable duck type).
	eventingduckv1.ChannelableSpec `json:",inline"`
}

// KafkaChannelStatus is the observed state of a KafkaChannel: Knative's Channelable status
// (conditions, address(es), per-subscriber readiness, the resolved dead-letter sink).
type KafkaChannelStatus struct {
	eventingduckv1.ChannelableStatus `json:",inline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// KafkaChannelList is a list of KafkaChannels.
type KafkaChannelList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaChannel `json:"items"`
}

var (
	_ apis.Validatable   = (*KafkaChannel)(nil)
	_ apis.Defaultable   = (*KafkaChannel)(nil)
	_ apis.HasSpec       = (*KafkaChannel)(nil)
	_ runtime.Object     = (*KafkaChannel)(nil)
	_ kmeta.OwnerRefable = (*KafkaChannel)(nil)
	_ duckv1.KRShaped    = (*KafkaChannel)(nil)
)

// GetGroupVersionKind returns messaging.knative.dev/v1beta1 KafkaChannel.
func (*KafkaChannel) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("KafkaChannel")
}

// GetUntypedSpec returns the spec for code that handles any Knative resource.
func (kc *KafkaChannel) GetUntypedSpec() any {
	return kc.Spec
}

// GetStatus returns the duck status (conditions and observed generation).
func (kc *KafkaChannel) GetStatus() *duckv1.Status {
	return &kc.Status.Status
}

// RetentionDuration returns spec.retentionDuration as a time.Duration; an empty value means the
// default (DefaultRetentionDuration), so a channel admitted before defaulting still has a retention.
func (kc *KafkaChannel) RetentionDuration() (time.Duration, error) {
	return kc.Spec.ParseRetentionDuration()
}

// ParseRetentionDuration parses RetentionDuration (ISO-8601; empty means the default). Calendar
// units are approximated: a day is 24 hours, a year 365.2425 days and a month a twelfth of that.
func (s *KafkaChannelSpec) ParseRetentionDuration() (time.Duration, error) {
	value := s.RetentionDuration
	if value == "" {
		value = DefaultRetentionDuration
	}
	p, err := period.Parse(value)
	if err != nil {
		return 0, fmt.Errorf("parsing retention duration %q as ISO-8601: %w", value, err)
	}
	if p.IsNegative() {
		return 0, fmt.Errorf("retention duration %q is negative", value)
	}
	if p.TotalDaysApprox() > maxRetentionDays {
		return 0, fmt.Errorf("retention duration %q is longer than %d days", value, maxRetentionDays)
	}
	return p.DurationApprox(), nil
}

// maxRetentionDays keeps a retention inside what a time.Duration holds (about 292 years).
const maxRetentionDays = 100_000
