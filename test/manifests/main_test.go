package manifests

import (
	"testing"

	"knkafka.dev/test/kubetest"
)

// TestMain lets tests that need a real kube-apiserver ask for one (kubetest.Env); it starts on
// first use, so the tests of files alone do not wait for it.
func TestMain(m *testing.M) { kubetest.Main(m) }
