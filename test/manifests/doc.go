// Package manifests holds the tests that keep the manifests under config/ in line with the code
// they install: the KafkaChannel and KafkaSource CRDs' names, labels and schemas must match their
// Go types, and a real kube-apiserver (kubetest) must serve KafkaSource as Knative's tools expect
// it; every document must decode strictly into a known Kubernetes type; Deployments may pass only
// flags and environment variables their binaries read, and probe the ports those binaries serve;
// the ingress Services, webhook configurations, ConfigMaps, RBAC roles and bindings must fit the
// names and needs of the controller, webhook and data plane.
package manifests
