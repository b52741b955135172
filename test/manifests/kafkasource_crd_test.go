package manifests

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
)

const sourceCRDFile = "../../config/100-kafkasource-crd.yaml"

// kafkaSourceColumns are the printer columns of Knative's Kafka source; kubectl prints them
// upper-cased: TOPICS, BOOTSTRAPSERVERS, READY, REASON, AGE.
var kafkaSourceColumns = []string{"Topics", "BootstrapServers", "Ready", "Reason", "Age"}

// kafkaSourceLabels make the CRD a Knative source: found by `kn source list-types`, `kubectl get
// sources` and Knative's source duck, and installed as a CRD of Knative.
var kafkaSourceLabels = []string{"eventing.knative.dev/source", "duck.knative.dev/source", "knative.dev/crd-install"}

func TestKafkaSourceCRDNames(t *testing.T) {
	crd := readCRDFile(t, sourceCRDFile)
	gvk := (&sourcesv1beta1.KafkaSource{}).GetGroupVersionKind()
	if got, want := crd.Name, "kafkasources."+gvk.Group; got != want {
		t.Errorf("metadata.name = %q, want %q", got, want)
	}
	if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind || crd.Spec.Names.Plural != "kafkasources" {
		t.Errorf("group/kind/plural = %s/%s/%s, want %s/%s/kafkasources",
			crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Names.Plural, gvk.Group, gvk.Kind)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope = %s, want Namespaced", crd.Spec.Scope)
	}
	if diff := cmp.Diff([]string{"all", "knative", "eventing", "sources"}, crd.Spec.Names.Categories); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	for _, label := range kafkaSourceLabels {
		if got := crd.Labels[label]; got != "true" {
			t.Errorf("label %s = %q, want \"true\"", label, got)
		}
	}
	if got, want := crd.Annotations["registry.knative.dev/eventTypes"], `[
  { "type": "`+sourcesv1beta1.KafkaEventType+`" }
]
`; got != want {
		t.Errorf("annotation registry.knative.dev/eventTypes = %q, want %q", got, want)
	}
	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("conversion = %+v, want strategy None: the versions share one schema", crd.Spec.Conversion)
	}
}

// TestKafkaSourceCRDServesBothVersionsAlike: v1beta1 is stored, v1 served, and the two are the
// same in everything but their name and storage flag — the precondition for conversion None.
func TestKafkaSourceCRDServesBothVersionsAlike(t *testing.T) {
	crd := readCRDFile(t, sourceCRDFile)
	if len(crd.Spec.Versions) != 2 {
		t.Fatalf("%d versions, want v1beta1 and v1", len(crd.Spec.Versions))
	}
	stored, other := crd.Spec.Versions[0], crd.Spec.Versions[1]
	if stored.Name != sourcesv1beta1.SchemeGroupVersion.Version || !stored.Served || !stored.Storage {
		t.Errorf("version %s served=%t storage=%t, want v1beta1 served and stored", stored.Name, stored.Served, stored.Storage)
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
		if s := v.Subresources; s == nil || s.Scale == nil || s.Scale.SpecReplicasPath != ".spec.consumers" || s.Scale.StatusReplicasPath != ".status.consumers" {
			t.Errorf("%s: scale subresource = %+v, want .spec.consumers / .status.consumers as Knative's Kafka source has", v.Name, v.Subresources)
		}
		var columns []string
		for _, c := range v.AdditionalPrinterColumns {
			columns = append(columns, c.Name)
		}
		if diff := cmp.Diff(kafkaSourceColumns, columns); diff != "" {
			t.Errorf("%s: printer columns (-want +got):\n%s", v.Name, diff)
		}
		checkStructural(t, v.Name, v.Schema.OpenAPIV3Schema)
	}
}

// TestKafkaSourceCRDSchemaMatchesTypes walks the Go types and the schema side by side (see
// TestKafkaChannelCRDSchemaMatchesTypes) and checks the schema's defaults are the webhook's.
func TestKafkaSourceCRDSchemaMatchesTypes(t *testing.T) {
	crd := readCRDFile(t, sourceCRDFile)
	root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	ks := reflect.TypeFor[sourcesv1beta1.KafkaSource]()
	for _, part := range []string{"spec", "status"} {
		f, ok := jsonFields(ks)[part]
		if !ok {
			t.Fatalf("KafkaSource has no %s field", part)
		}
		prop, ok := root.Properties[part]
		if !ok {
			t.Fatalf("the schema has no %s", part)
		}
		compareSchema(t, part, f, &prop)
	}

	spec := root.Properties["spec"]
	for name, typ := range map[string]string{
		"bootstrapServers": "array", "topics": "array", "consumerGroup": "string", "initialOffset": "string",
		"consumers": "integer", "ordering": "string", "delivery": "object", "net": "object", "sink": "object", "ceOverrides": "object",
	} {
		if got := spec.Properties[name].Type; got != typ {
			t.Errorf("spec.%s has type %q, want %q", name, got, typ)
		}
	}
	for name, want := range map[string]string{
		"initialOffset": jsonString(t, sourcesv1beta1.DefaultInitialOffset),
		"consumers":     jsonString(t, sourcesv1beta1.DefaultConsumers),
		"ordering":      jsonString(t, sourcesv1beta1.DefaultOrdering),
	} {
		d := spec.Properties[name].Default
		if d == nil || string(d.Raw) != want {
			t.Errorf("spec.%s default = %v, want %s", name, d, want)
		}
	}
	// The enumerations are the Go constants, so the API server and the webhook agree.
	enum := func(name string) []string {
		var out []string
		for _, v := range spec.Properties[name].Enum {
			out = append(out, string(v.Raw))
		}
		return out
	}
	if diff := cmp.Diff([]string{jsonString(t, sourcesv1beta1.OffsetEarliest), jsonString(t, sourcesv1beta1.OffsetLatest)}, enum("initialOffset")); diff != "" {
		t.Errorf("spec.initialOffset enum (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{jsonString(t, sourcesv1beta1.Ordered), jsonString(t, sourcesv1beta1.Unordered), jsonString(t, sourcesv1beta1.KeyOrdered)}, enum("ordering")); diff != "" {
		t.Errorf("spec.ordering enum (-want +got):\n%s", diff)
	}
}
