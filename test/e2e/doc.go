// Package e2e runs knkafka end to end on real infrastructure: our controller and data-plane
// binaries (built with -race) as processes against a real kube-apiserver and etcd (test/kubetest)
// and the real Kafka broker of `make test` (test/kafkatest), with Knative core's own Channel and
// Subscription reconcilers and channel-defaulting code running in the test process. Subscribers,
// reply targets and dead-letter sinks are local HTTP servers the objects reach by `uri`.
//
// TestE2E starts one controller and one data plane, runs the scenarios against them as subtests
// (the Knative core reconcilers start with the first scenario that needs them) and stops everything
// before the control plane stops. Each scenario works in namespaces of its own, except the Broker
// flow, which uses the Broker `default` in `default` that users start with. TestConfigManifestsApply
// server-side applies config/ as a dry run.
package e2e
