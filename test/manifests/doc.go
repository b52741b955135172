// Package manifests holds the tests that keep the manifests under config/ in line with the Go API
// types: the KafkaChannel CRD's names, labels and schema must match messagingv1beta1.KafkaChannel.
package manifests
