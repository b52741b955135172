package kubetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests need no control plane.

func TestCheckAssets(t *testing.T) {
	dir := t.TempDir()
	err := checkAssets(dir)
	if err == nil || !strings.Contains(err.Error(), "hack/kube.sh build") {
		t.Errorf("checkAssets(empty dir) = %v, want an error saying how to build the binaries", err)
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkAssets(dir); err != nil {
		t.Errorf("checkAssets(dir with both binaries) = %v, want nil", err)
	}
	if err := os.Chmod(filepath.Join(dir, "etcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkAssets(dir); err == nil {
		t.Error("checkAssets(dir with a non-executable etcd) = nil, want an error")
	}
}

func TestAssetsDirUnset(t *testing.T) {
	t.Setenv(EnvAssets, "")
	_, err := assetsDir()
	if err == nil || !strings.Contains(err.Error(), "make test") || !strings.Contains(err.Error(), EnvAssets) {
		t.Errorf("assetsDir() with %s unset = %v, want an error naming the variable and `make test`", EnvAssets, err)
	}
}

func TestReadManifests(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"testdata/apply.yaml", []string{"ConfigMap kubetest-apply/kafka-broker-config", "Broker kubetest-apply/applied"}},
		{"testdata/list.json", []string{"ConfigMap /one", "ConfigMap /two"}},
	} {
		objs, err := ReadManifests(tc.path)
		if err != nil {
			t.Fatalf("ReadManifests(%s): %v", tc.path, err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ReadManifests(%s) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestReadManifestsRejectsObjectsWithoutName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifests(path); err == nil {
		t.Error("ReadManifests(object without a name) = nil error, want one")
	}
}

func TestCRDFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"300-kafkachannel.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kafkachannels.messaging.knative.dev\n",
		"sub/mixed.yaml":        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: b\n",
		"deployment.yaml":       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: controller\n",
		"notes.txt":             "kind: CustomResourceDefinition\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := crdFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "300-kafkachannel.yaml"), filepath.Join(dir, "sub/mixed.yaml")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("crdFiles (-want +got):\n%s", diff)
	}

	got, err = crdFiles(filepath.Join(dir, "missing"))
	if err != nil || len(got) != 0 {
		t.Errorf("crdFiles(missing dir) = %v, %v; want none and no error", got, err)
	}
}
