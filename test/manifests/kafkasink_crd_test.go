package manifests

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
)

const sinkCRDFile = "../../config/100-kafkasink-crd.yaml"

// TestKafkaSinkCRDNames: the names, scope, labels and version Knative's Kafka sink has, so its
// manifests apply and Knative's resolver treats a sink as Addressable.
func TestKafkaSinkCRDNames(t *testing.T) {
	crd := readCRDFile(t, sinkCRDFile)
	gvk := (&eventingv1alpha1.KafkaSink{}).GetGroupVersionKind()
	if got, want := crd.Name, "kafkasinks."+gvk.Group; got != want {
		t.Errorf("metadata.name = %q, want %q", got, want)
	}
	if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind || crd.Spec.Names.Plural != "kafkasinks" || crd.Spec.Scope != "Namespaced" {
		t.Errorf("group/kind/plural/scope = %s/%s/%s/%s, want %s/%s/kafkasinks/Namespaced",
			crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Names.Plural, crd.Spec.Scope, gvk.Group, gvk.Kind)
	}
	if diff := cmp.Diff([]string{"all", "knative", "eventing"}, crd.Spec.Names.Categories); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	for _, label := range []string{"duck.knative.dev/addressable", "knative.dev/crd-install"} {
		if got := crd.Labels[label]; got != "true" {
			t.Errorf("label %s = %q, want \"true\"", label, got)
		}
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%d versions, want 1 (%s)", len(crd.Spec.Versions), gvk.Version)
	}
	v := crd.Spec.Versions[0]
	if v.Name != gvk.Version || !v.Served || !v.Storage || v.Subresources == nil || v.Subresources.Status == nil {
		t.Errorf("version %s served=%t storage=%t subresources=%+v, want %s served, stored, with status", v.Name, v.Served, v.Storage, v.Subresources, gvk.Version)
	}
	checkStructural(t, v.Name, v.Schema.OpenAPIV3Schema)
}

// TestKafkaSinkCRDSchemaMatchesTypes: the schema lists exactly the JSON fields of the Go types,
// requires what the webhook requires, and defaults and enumerates the content mode as the API does.
func TestKafkaSinkCRDSchemaMatchesTypes(t *testing.T) {
	crd := readCRDFile(t, sinkCRDFile)
	root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	ks := reflect.TypeFor[eventingv1alpha1.KafkaSink]()
	for _, part := range []string{"spec", "status"} {
		f, ok := jsonFields(ks)[part]
		if !ok {
			t.Fatalf("KafkaSink has no %s field", part)
		}
		prop, ok := root.Properties[part]
		if !ok {
			t.Fatalf("the schema has no %s", part)
		}
		compareSchema(t, part, f, &prop)
	}
	spec := root.Properties["spec"]
	for name, typ := range map[string]string{"topic": "string", "numPartitions": "integer", "replicationFactor": "integer",
		"bootstrapServers": "array", "contentMode": "string", "auth": "object"} {
		if got := spec.Properties[name].Type; got != typ {
			t.Errorf("spec.%s has type %q, want %q", name, got, typ)
		}
	}
	if diff := cmp.Diff([]string{"topic", "bootstrapServers"}, spec.Required); diff != "" {
		t.Errorf("spec.required (-want +got):\n%s", diff)
	}
	mode := spec.Properties["contentMode"]
	if d := mode.Default; d == nil || string(d.Raw) != jsonString(t, eventingv1alpha1.ModeBinary) {
		t.Errorf("spec.contentMode default = %v, want %q", d, eventingv1alpha1.ModeBinary)
	}
	var enum []string
	for _, e := range mode.Enum {
		enum = append(enum, string(e.Raw))
	}
	if diff := cmp.Diff([]string{jsonString(t, eventingv1alpha1.ModeBinary), jsonString(t, eventingv1alpha1.ModeStructured)}, enum); diff != "" {
		t.Errorf("spec.contentMode enum (-want +got):\n%s", diff)
	}
}
