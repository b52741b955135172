package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager [Apply] and [ApplyManifests] use.
const FieldManager = "kubetest"

// Apply server-side applies the manifests in path — a multi-document YAML or JSON file, or a
// directory, read recursively in lexical order — and returns the objects as the server returned
// them. With dryRun it sends dryRun=All: the server decodes, defaults, validates and admits every
// object but persists nothing. Apply fails the test on the first error. See [ApplyManifests] for how
// objects are sent.
func Apply(t testing.TB, cfg *rest.Config, path string, dryRun bool) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ReadManifests(path)
	if err != nil {
		t.Fatalf("kubetest.Apply: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	applied, err := ApplyManifests(ctx, cfg, objs, dryRun)
	if err != nil {
		t.Fatalf("kubetest.Apply %s (dryRun=%t): %v", path, dryRun, err)
	}
	return applied
}

// ApplyManifests server-side applies objs in order (field manager [FieldManager], taking ownership of
// conflicting fields) and returns the server's answers. It maps kinds to resources through
// discovery, refreshing it once when a kind is unknown, so a CRD applied earlier in objs serves the
// objects after it — except in a dry run, where the CRD is not created. A namespaced object without
// a namespace goes to "default". The namespaces objects name must exist, in a dry run too.
func ApplyManifests(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, dryRun bool) ([]*unstructured.Unstructured, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	applied := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		res, err := resourceFor(mapper, dyn, obj)
		if err != nil {
			return applied, fmt.Errorf("%s: %w", describe(obj), err)
		}
		out, err := res.Apply(ctx, obj.GetName(), obj, opts)
		if err != nil {
			return applied, fmt.Errorf("applying %s: %w", describe(obj), err)
		}
		applied = append(applied, out)
	}
	return applied, nil
}

// resourceFor returns the dynamic client for obj's resource, defaulting its namespace.
func resourceFor(mapper *restmapper.DeferredDiscoveryRESTMapper, dyn dynamic.Interface, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset()
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("mapping %s to a resource: %w", gvk, err)
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return dyn.Resource(mapping.Resource), nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(metav1.NamespaceDefault)
	}
	return dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
}

func describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s %s", obj.GetAPIVersion(), obj.GetKind(), name)
}

// ReadManifests reads the Kubernetes objects in path: a multi-document YAML or JSON file, or a
// directory whose .yaml, .yml and .json files are read recursively in lexical order. Empty documents
// are skipped and List kinds are flattened; every object must have an apiVersion, a kind and a name.
func ReadManifests(path string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (p != path && !isManifest(p)) {
			return nil
		}
		docs, err := readManifestFile(p)
		if err != nil {
			return err
		}
		for i, o := range docs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				return fmt.Errorf("%s: object %d has no apiVersion, kind or metadata.name", p, i+1)
			}
		}
		objs = append(objs, docs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	return objs, nil
}

func isManifest(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// readManifestFile decodes every non-empty document of a YAML or JSON file, flattening Lists.
func readManifestFile(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if len(m) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: m}
		if !obj.IsList() {
			objs = append(objs, obj)
			continue
		}
		err := obj.EachListItem(func(item runtime.Object) error {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("unexpected list item type %T", item)
			}
			objs = append(objs, u)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
	}
}
