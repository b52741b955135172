package kafkaauth

import (
	"testing"

	"knkafka.dev/test/kubetest"
)

// TestMain lets the Kubernetes source's tests ask for a real kube-apiserver (kubetest.Env); it
// starts on first use, so the other tests do not wait for it.
func TestMain(m *testing.M) { kubetest.Main(m) }
