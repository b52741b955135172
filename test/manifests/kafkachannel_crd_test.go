package manifests

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
)

const crdFile = "../../config/100-kafkachannel-crd.yaml"

func readCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	return readCRDFile(t, crdFile)
}

// readCRDFile strictly decodes the one CustomResourceDefinition in file.
func readCRDFile(t *testing.T, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	return &crd
}

// checkStructural runs the API server's own structural-schema check, which decides whether the
// CRD is accepted and whether pruning and defaulting work.
func checkStructural(t *testing.T, version string, props *apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(props, &internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := schema.NewStructural(&internal)
	if err != nil {
		t.Fatalf("%s: schema is not structural: %v", version, err)
	}
	if errs := schema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
		t.Fatalf("%s: schema is not structural: %v", version, errs.ToAggregate())
	}
}

func TestKafkaChannelCRDNames(t *testing.T) {
	crd := readCRD(t)
	gvk := (&messagingv1beta1.KafkaChannel{}).GetGroupVersionKind()

	if got, want := crd.Name, "kafkachannels."+gvk.Group; got != want {
		t.Errorf("metadata.name = %q, want %q", got, want)
	}
	if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind || crd.Spec.Names.Plural != "kafkachannels" {
		t.Errorf("group/kind/plural = %s/%s/%s, want %s/%s/kafkachannels",
			crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Names.Plural, gvk.Group, gvk.Kind)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope = %s, want Namespaced", crd.Spec.Scope)
	}
	wantCategories := []string{"all", "knative", "messaging", "channel"}
	if diff := cmp.Diff(wantCategories, crd.Spec.Names.Categories); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	// Knative finds channels, sinks and its CRDs by these labels.
	for _, label := range []string{"messaging.knative.dev/subscribable", "duck.knative.dev/addressable", "knative.dev/crd-install"} {
		if got := crd.Labels[label]; got != "true" {
			t.Errorf("label %s = %q, want \"true\"", label, got)
		}
	}

	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("conversion = %+v, want strategy None: the versions share one schema", crd.Spec.Conversion)
	}
}

// TestKafkaChannelCRDServesBothVersionsAlike: v1beta1 (the Go types' version) is stored, v1 served
// as Knative's Kafka channel serves it, and the two are the same in everything but their name and
// storage flag — the precondition for conversion None.
func TestKafkaChannelCRDServesBothVersionsAlike(t *testing.T) {
	crd := readCRD(t)
	if len(crd.Spec.Versions) != 2 {
		t.Fatalf("%d versions, want v1beta1 and v1", len(crd.Spec.Versions))
	}
	stored, other := crd.Spec.Versions[0], crd.Spec.Versions[1]
	if stored.Name != messagingv1beta1.SchemeGroupVersion.Version || !stored.Served || !stored.Storage {
		t.Errorf("version %s served=%t storage=%t, want %s served and stored", stored.Name, stored.Served, stored.Storage, messagingv1beta1.SchemeGroupVersion.Version)
	}
	if other.Name != "v1" || !other.Served || other.Storage {
		t.Errorf("version %s served=%t storage=%t, want v1 served and not stored", other.Name, other.Served, other.Storage)
	}
	other.Name, other.Storage = stored.Name, stored.Storage
	if diff := cmp.Diff(stored, other); diff != "" {
		t.Errorf("v1 differs from v1beta1 (-v1beta1 +v1):\n%s", diff)
	}

	for _, v := range crd.Spec.Versions {
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: the status subresource is not enabled; the generated reconciler writes status through it", v.Name)
		}
		var columns []string
		for _, c := range v.AdditionalPrinterColumns {
			columns = append(columns, c.Name)
		}
		if diff := cmp.Diff([]string{"Ready", "Reason", "URL", "Age"}, columns); diff != "" {
			t.Errorf("%s: printer columns (-want +got):\n%s", v.Name, diff)
		}
	}
}

// TestKafkaChannelCRDSchemaIsStructural runs the API server's own structural-schema check, which
// decides whether the CRD is accepted and whether pruning and defaulting work.
func TestKafkaChannelCRDSchemaIsStructural(t *testing.T) {
	crd := readCRD(t)
	for _, v := range crd.Spec.Versions {
		checkStructural(t, v.Name, v.Schema.OpenAPIV3Schema)
	}
}

// TestKafkaChannelCRDSchemaMatchesTypes walks the Go types and the schema side by side: wherever the
// schema lists properties, they must be exactly the JSON fields of the Go type there. Objects the
// schema leaves open (x-kubernetes-preserve-unknown-fields without properties) are not descended.
func TestKafkaChannelCRDSchemaMatchesTypes(t *testing.T) {
	crd := readCRD(t)
	root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	kc := reflect.TypeFor[messagingv1beta1.KafkaChannel]()
	for _, part := range []string{"spec", "status"} {
		f, ok := jsonFields(kc)[part]
		if !ok {
			t.Fatalf("KafkaChannel has no %s field", part)
		}
		prop, ok := root.Properties[part]
		if !ok {
			t.Fatalf("the schema has no %s", part)
		}
		compareSchema(t, part, f, &prop)
	}

	// The spec fields users set are typed, not left open.
	spec := root.Properties["spec"]
	for name, typ := range map[string]string{"numPartitions": "integer", "replicationFactor": "integer", "retentionDuration": "string", "delivery": "object", "subscribers": "array"} {
		if got := spec.Properties[name].Type; got != typ {
			t.Errorf("spec.%s has type %q, want %q", name, got, typ)
		}
	}
	// The schema's defaults match the webhook's, so a cluster without our webhook defaults the same.
	for name, want := range map[string]string{
		"numPartitions":     jsonString(t, messagingv1beta1.DefaultNumPartitions),
		"replicationFactor": jsonString(t, messagingv1beta1.DefaultReplicationFactor),
		"retentionDuration": jsonString(t, messagingv1beta1.DefaultRetentionDuration),
	} {
		d := spec.Properties[name].Default
		if d == nil || string(d.Raw) != want {
			t.Errorf("spec.%s default = %v, want %s", name, d, want)
		}
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func compareSchema(t *testing.T, path string, typ reflect.Type, s *apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case s.Type == "array" && s.Items != nil && s.Items.Schema != nil && typ.Kind() == reflect.Slice:
		compareSchema(t, path+"[]", typ.Elem(), s.Items.Schema)
		return
	case len(s.Properties) == 0 || typ.Kind() != reflect.Struct || reflect.PointerTo(typ).Implements(jsonMarshaler):
		return
	}
	fields := jsonFields(typ)
	var missing, extra []string
	for name := range fields {
		if _, ok := s.Properties[name]; !ok {
			missing = append(missing, path+"."+name)
		}
	}
	for name := range s.Properties {
		if _, ok := fields[name]; !ok {
			extra = append(extra, path+"."+name)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("fields of %s missing from the schema: %s", typ, strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("schema properties that %s does not have: %s", typ, strings.Join(extra, ", "))
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if prop, ok := s.Properties[name]; ok {
			compareSchema(t, path+"."+name, fields[name], &prop)
		}
	}
}

// jsonFields maps the JSON names of a struct's fields to their types, flattening inlined embeds the
// way encoding/json does.
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
