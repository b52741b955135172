// Package v1alpha1 holds the KafkaSink API (eventing.knative.dev/v1alpha1): an Addressable that
// writes every CloudEvent posted to it into one Kafka topic, in binary or structured content mode.
//
// kafka_sink_types.go declares KafkaSink, KafkaSinkSpec and KafkaSinkStatus;
// kafka_sink_defaults.go and kafka_sink_validation.go are what the webhook applies on admission;
// kafka_sink_lifecycle.go holds the condition set and the Mark* methods the reconciler reports
// through. Field names, JSON and defaults are those of Knative's Kafka sink, so its manifests apply
// unchanged.
//
// +k8s:deepcopy-gen=package
// +groupName=eventing.knative.dev
package v1alpha1
