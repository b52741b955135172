package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"knkafka.dev/test/kafkatest"
	"knkafka.dev/test/kubetest"
)

// TestConfigManifestsApply server-side applies every manifest in config/ to the real apiserver as
// a dry run: the apiserver decodes, defaults, validates and admits each object (schemas, RBAC
// rules, webhook configurations, Deployments), and persists nothing.
func TestConfigManifestsApply(t *testing.T) {
	c := kubetest.Env(t)
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "config")
	objs, err := kubetest.ReadManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The namespaces the manifests name must exist (Knative Eventing creates knative-eventing).
	var namespaces []string
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
			if err := ensureNamespace(ctx, c, ns); err != nil {
				t.Fatal(err)
			}
		}
	}

	applied := kubetest.Apply(t, c.Config(), dir, true)
	if len(applied) != len(objs) || len(objs) == 0 {
		t.Fatalf("dry run applied %d objects of the %d in %s", len(applied), len(objs), dir)
	}
	kinds := map[string]int{}
	for _, o := range applied {
		kinds[o.GetKind()]++
	}
	for _, kind := range []string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"} {
		if kinds[kind] == 0 {
			t.Errorf("config/ has no %s; applied kinds: %v", kind, kinds)
		}
	}
	t.Logf("dry-run applied %d objects from %s in namespaces %v: %v", len(applied), dir, namespaces, kinds)

	// A dry run persists nothing.
	for _, o := range applied {
		if o.GetKind() != "Deployment" {
			continue
		}
		_, err := c.Kube.AppsV1().Deployments(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("Deployment %s/%s after a dry run: err = %v, want NotFound", o.GetNamespace(), o.GetName(), err)
		}
	}
}
