// Package v1beta1 holds the KafkaChannel API (messaging.knative.dev/v1beta1): a Knative Channel
// whose events live in one Kafka topic.
//
// kafka_channel_types.go declares KafkaChannel, KafkaChannelSpec and KafkaChannelStatus;
// kafka_channel_defaults.go and kafka_channel_validation.go are what the webhook applies on admission;
// kafka_channel_lifecycle.go holds the condition set and the Mark* methods reconcilers report through.
//
// +k8s:deepcopy-gen=package
// +groupName=messaging.knative.dev
package v1beta1
