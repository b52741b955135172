package manifests

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/test/kubetest"
)

// The tests in this file run against a real kube-apiserver with config/'s CRDs installed
// (kubetest): what users and Knative's tooling see is what the server serves, not what the file says.

const sourcesGroup = "sources.knative.dev"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func kafkaSources(version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: sourcesGroup, Version: version, Resource: "kafkasources"}
}

// TestKafkaSourceIsServedAsV1beta1AndV1 asks the server's discovery, as kubectl and kn do, for
// KafkaSources under both versions: with the source categories, status and scale.
func TestKafkaSourceIsServedAsV1beta1AndV1(t *testing.T) {
	c := kubetest.Env(t)
	for _, version := range []string{"v1beta1", "v1"} {
		list, err := c.Kube.Discovery().ServerResourcesForGroupVersion(sourcesGroup + "/" + version)
		if err != nil {
			t.Fatalf("discovery of %s/%s: %v", sourcesGroup, version, err)
		}
		found := map[string]metav1.APIResource{}
		for _, r := range list.APIResources {
			found[r.Name] = r
		}
		r, ok := found["kafkasources"]
		if !ok {
			t.Errorf("%s/%s does not serve kafkasources", sourcesGroup, version)
			continue
		}
		if r.Kind != "KafkaSource" || !r.Namespaced {
			t.Errorf("%s: kafkasources is kind %s, namespaced %t", version, r.Kind, r.Namespaced)
		}
		for _, category := range []string{"all", "knative", "sources"} {
			if !slices.Contains(r.Categories, category) {
				t.Errorf("%s: kafkasources is not in category %q (`kubectl get %s`): %v", version, category, category, r.Categories)
			}
		}
		for _, sub := range []string{"kafkasources/status", "kafkasources/scale"} {
			if _, ok := found[sub]; !ok {
				t.Errorf("%s: subresource %s is not served", version, sub)
			}
		}
	}
}

// TestKafkaSourceCRDCarriesTheKnativeSourceLabels lists CRDs by label, as Knative's source duck
// and `kn source list-types` do.
func TestKafkaSourceCRDCarriesTheKnativeSourceLabels(t *testing.T) {
	c := kubetest.Env(t)
	ctx := context.Background()
	for _, label := range kafkaSourceLabels {
		list, err := c.Dynamic.Resource(crdResource).List(ctx, metav1.ListOptions{LabelSelector: label + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(list.Items, func(u unstructured.Unstructured) bool { return u.GetName() == "kafkasources.sources.knative.dev" }) {
			t.Errorf("the KafkaSource CRD is not among the CRDs labelled %s=true", label)
		}
	}
	crd, err := c.Dynamic.Resource(crdResource).Get(ctx, "kafkasources.sources.knative.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(crd.GetAnnotations()["registry.knative.dev/eventTypes"], sourcesv1beta1.KafkaEventType) {
		t.Errorf("registry.knative.dev/eventTypes = %q, want it to declare %s", crd.GetAnnotations()["registry.knative.dev/eventTypes"], sourcesv1beta1.KafkaEventType)
	}
}

// TestKafkaSourceWrittenAsV1IsReadAsV1beta1 writes a source as v1, reads it back as v1beta1 with
// the schema's defaults, lists it as kubectl does (its Table columns), scales it, and has the
// server refuse a consumer group change.
func TestKafkaSourceWrittenAsV1IsReadAsV1beta1(t *testing.T) {
	c := kubetest.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := namespace(ctx, t, c, "kafkasource-versions")

	src := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": sourcesGroup + "/v1",
		"kind":       "KafkaSource",
		"metadata":   map[string]any{"name": "orders", "namespace": ns},
		"spec": map[string]any{
			"bootstrapServers": []any{"kafka:9092"},
			"topics":           []any{"orders", "refunds"},
			"consumerGroup":    "orders-group",
			"sink":             map[string]any{"uri": "http://sink.example"},
		},
	}}
	if _, err := c.Dynamic.Resource(kafkaSources("v1")).Namespace(ns).Create(ctx, src, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a v1 KafkaSource: %v", err)
	}
	got, err := c.Dynamic.Resource(kafkaSources("v1beta1")).Namespace(ns).Get(ctx, "orders", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading it as v1beta1: %v", err)
	}
	var ks sourcesv1beta1.KafkaSource
	if err := convert(got.Object, &ks); err != nil {
		t.Fatal(err)
	}
	ordered := sourcesv1beta1.Ordered
	consumers := int32(1)
	want := sourcesv1beta1.KafkaSourceSpec{
		BootstrapServers: []string{"kafka:9092"},
		Topics:           []string{"orders", "refunds"},
		ConsumerGroup:    "orders-group",
		InitialOffset:    sourcesv1beta1.OffsetLatest,
		Consumers:        &consumers,
		Ordering:         &ordered,
	}
	want.Sink.URI = ks.Spec.Sink.URI
	if ks.APIVersion != sourcesGroup+"/v1beta1" || ks.Spec.Sink.URI.String() != "http://sink.example" {
		t.Errorf("read back as %s with sink %v", ks.APIVersion, ks.Spec.Sink.URI)
	}
	if diff := cmp.Diff(want, ks.Spec); diff != "" {
		t.Errorf("spec read as v1beta1, defaulted by the schema (-want +got):\n%s", diff)
	}

	t.Run("kubectl get shows the printer columns", func(t *testing.T) {
		for _, version := range []string{"v1beta1", "v1"} {
			columns, row := table(ctx, t, c, "/apis/"+sourcesGroup+"/"+version+"/namespaces/"+ns+"/kafkasources")
			var upper []string
			for _, col := range columns {
				upper = append(upper, strings.ToUpper(col))
			}
			if diff := cmp.Diff([]string{"NAME", "TOPICS", "BOOTSTRAPSERVERS", "READY", "REASON", "AGE"}, upper); diff != "" {
				t.Errorf("%s: columns as kubectl prints them (-want +got):\n%s", version, diff)
			}
			if len(row) < 3 || row[0] != "orders" || !strings.Contains(row[1].(string), "refunds") || !strings.Contains(row[2].(string), "kafka:9092") {
				t.Errorf("%s: row = %v", version, row)
			}
		}
	})

	t.Run("the scale subresource reads spec.consumers", func(t *testing.T) {
		scale, err := c.Dynamic.Resource(kafkaSources("v1")).Namespace(ns).Get(ctx, "orders", metav1.GetOptions{}, "scale")
		if err != nil {
			t.Fatal(err)
		}
		replicas, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas")
		if replicas != 1 {
			t.Errorf("scale spec.replicas = %d, want 1", replicas)
		}
	})

	t.Run("the consumer group cannot change", func(t *testing.T) {
		changed := got.DeepCopy()
		if err := unstructured.SetNestedField(changed.Object, "another-group", "spec", "consumerGroup"); err != nil {
			t.Fatal(err)
		}
		_, err := c.Dynamic.Resource(kafkaSources("v1beta1")).Namespace(ns).Update(ctx, changed, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "consumerGroup is immutable") {
			t.Errorf("updating the consumer group: %v, want Invalid: consumerGroup is immutable", err)
		}
	})

	t.Run("an unknown ordering is refused", func(t *testing.T) {
		bad := src.DeepCopy()
		bad.SetName("random")
		if err := unstructured.SetNestedField(bad.Object, "random", "spec", "ordering"); err != nil {
			t.Fatal(err)
		}
		_, err := c.Dynamic.Resource(kafkaSources("v1")).Namespace(ns).Create(ctx, bad, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ordering") {
			t.Errorf("creating a source with ordering random: %v, want Invalid on spec.ordering", err)
		}
	})
}

// namespace creates a namespace for one test and deletes it when the test ends.
func namespace(ctx context.Context, t *testing.T, c *kubetest.Cluster, name string) string {
	t.Helper()
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// table lists path as kubectl does, asking the server for a Table, and returns the column names
// and the cells of the first row.
func table(ctx context.Context, t *testing.T, c *kubetest.Cluster, path string) ([]string, []any) {
	t.Helper()
	raw, err := c.Kube.Discovery().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("listing %s as a Table: %v", path, err)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(raw, &tbl); err != nil {
		t.Fatalf("decoding the Table of %s: %v", path, err)
	}
	var columns []string
	for _, col := range tbl.ColumnDefinitions {
		columns = append(columns, col.Name)
	}
	if len(tbl.Rows) == 0 {
		t.Fatalf("the Table of %s has no rows", path)
	}
	return columns, tbl.Rows[0].Cells
}

func convert(obj map[string]any, into any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
