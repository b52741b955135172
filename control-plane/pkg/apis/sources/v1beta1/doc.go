// Package v1beta1 holds the KafkaSource API (sources.knative.dev/v1beta1, also served as v1 with
// the same schema): a Knative event source that reads Kafka topics and sends each record, as a
// CloudEvent, to a sink.
//
// kafka_source_types.go declares KafkaSource, KafkaSourceSpec, KafkaNetSpec and KafkaSourceStatus
// in the JSON shape users write for Knative's Kafka source; kafka_source_defaults.go and
// kafka_source_validation.go are what the webhook applies on admission; kafka_source_lifecycle.go
// holds the condition set and the Mark* methods the reconciler reports through.
//
// +k8s:deepcopy-gen=package
// +groupName=sources.knative.dev
package v1beta1
