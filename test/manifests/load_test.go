package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const (
	// repoRoot is the repository, seen from this package's directory (where go test runs).
	repoRoot  = "../.."
	configDir = repoRoot + "/config"
	// systemNamespace is Knative Eventing's namespace, where everything of ours lives.
	systemNamespace = "knative-eventing"
	// partOf is the app.kubernetes.io/name label every object of ours carries.
	partOf = "knkafka"
)

// object is one YAML document of config/, decoded into its Go type.
type object struct {
	file string
	doc  int
	obj  runtime.Object
}

func (o object) String() string { return fmt.Sprintf("%s (document %d)", o.file, o.doc) }

// named is what every object in config/ is: a typed Kubernetes object with metadata.
type named interface {
	runtime.Object
	GetName() string
	GetNamespace() string
	GetLabels() map[string]string
}

// loadConfig decodes config/ once for all tests; they must not modify what it returns.
var loadConfig = sync.OnceValues(func() ([]object, error) { return readConfig(configDir) })

// config returns every document of config/, failing the test when one does not decode.
func config(t *testing.T) []object {
	t.Helper()
	objs, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// readConfig decodes every non-empty document of the YAML files in dir, strictly (unknown or
// duplicate fields are errors), into the types of client-go's scheme and apiextensions/v1: the
// kinds kube-apiserver itself serves.
func readConfig(dir string) ([]object, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no YAML files in %s", dir)
	}
	var out []object
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		file := filepath.Base(path)
		docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for doc := 1; ; doc++ {
			b, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, doc, err)
			}
			var probe map[string]any
			if err := yaml.Unmarshal(b, &probe); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, doc, err)
			}
			if len(probe) == 0 {
				continue // only comments
			}
			obj, _, err := decoder.Decode(b, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, doc, err)
			}
			out = append(out, object{file: file, doc: doc, obj: obj})
		}
	}
	return out, nil
}

// ofType returns the objects of config/ of type T.
func ofType[T named](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// find returns the object of type T with the given namespace and name.
func find[T named](objs []object, namespace, name string) (T, bool) {
	for _, v := range ofType[T](objs) {
		if v.GetNamespace() == namespace && v.GetName() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// clusterScoped are the kinds in config/ that have no namespace.
var clusterScoped = map[string]bool{
	"ClusterRole":                    true,
	"ClusterRoleBinding":             true,
	"CustomResourceDefinition":       true,
	"MutatingWebhookConfiguration":   true,
	"ValidatingWebhookConfiguration": true,
}

// currentAPIVersions are the API versions config/ may use: the GA ones, which every supported
// Kubernetes serves.
var currentAPIVersions = map[string]bool{
	"v1":                              true,
	"apps/v1":                         true,
	"rbac.authorization.k8s.io/v1":    true,
	"admissionregistration.k8s.io/v1": true,
	"apiextensions.k8s.io/v1":         true,
}

// TestConfigDirectoryHoldsOnlyManifests keeps config/ flat and YAML-only: `ko apply -f config/`
// reads neither subdirectories (without -R) nor would we want it to pick up stray files.
func TestConfigDirectoryHoldsOnlyManifests(t *testing.T) {
	entries, err := os.ReadDir(configDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.IsDir():
			t.Errorf("config/%s is a directory; ko apply -f config/ would skip it", e.Name())
		case e.Name() == "README.md", strings.HasSuffix(e.Name(), ".yaml"):
		default:
			t.Errorf("config/%s is neither a .yaml manifest nor README.md", e.Name())
		}
	}
}

func TestEveryDocumentDecodesIntoAKnownType(t *testing.T) {
	objs := config(t)
	seen := map[string]object{}
	for _, o := range objs {
		gvk := o.obj.GetObjectKind().GroupVersionKind()
		if !currentAPIVersions[gvk.GroupVersion().String()] {
			t.Errorf("%s: apiVersion %s is not one of the current GA versions", o, gvk.GroupVersion())
		}
		n, ok := o.obj.(named)
		if !ok {
			t.Errorf("%s: %T has no object metadata", o, o.obj)
			continue
		}
		key := gvk.Kind + " " + n.GetNamespace() + "/" + n.GetName()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: %s is also defined in %s", o, key, prev)
		}
		seen[key] = o
	}
}

// TestObjectsLiveInKnativeEventing: namespaced objects are in knative-eventing (which Knative
// Eventing creates, so we never ship a Namespace) and everything carries our name label, so
// `kubectl get -l app.kubernetes.io/name=knkafka` finds all of it.
func TestObjectsLiveInKnativeEventing(t *testing.T) {
	for _, o := range config(t) {
		kind := o.obj.GetObjectKind().GroupVersionKind().Kind
		n := o.obj.(named)
		switch {
		case kind == "Namespace":
			t.Errorf("%s: Namespace %s: knative-eventing belongs to Knative Eventing; config/ must not create namespaces", o, n.GetName())
		case clusterScoped[kind] && n.GetNamespace() != "":
			t.Errorf("%s: %s %s is cluster-scoped but sets namespace %q", o, kind, n.GetName(), n.GetNamespace())
		case !clusterScoped[kind] && n.GetNamespace() != systemNamespace:
			t.Errorf("%s: %s %s is in namespace %q, want %s", o, kind, n.GetName(), n.GetNamespace(), systemNamespace)
		}
		if got := n.GetLabels()["app.kubernetes.io/name"]; got != partOf {
			t.Errorf("%s: %s %s has label app.kubernetes.io/name=%q, want %q", o, kind, n.GetName(), got, partOf)
		}
	}
}
