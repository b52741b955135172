package manifests

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/test/kubetest"
)

const messagingGroup = "messaging.knative.dev"

func kafkaChannels(version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: messagingGroup, Version: version, Resource: "kafkachannels"}
}

// TestKafkaChannelIsServedAsV1beta1AndV1 asks the server's discovery, as kubectl and Knative's
// channel reconciler do, for KafkaChannels under both versions, with the channel categories and
// the status subresource.
func TestKafkaChannelIsServedAsV1beta1AndV1(t *testing.T) {
	c := kubetest.Env(t)
	for _, version := range []string{"v1beta1", "v1"} {
		list, err := c.Kube.Discovery().ServerResourcesForGroupVersion(messagingGroup + "/" + version)
		if err != nil {
			t.Fatalf("discovery of %s/%s: %v", messagingGroup, version, err)
		}
		found := map[string]metav1.APIResource{}
		for _, r := range list.APIResources {
			found[r.Name] = r
		}
		r, ok := found["kafkachannels"]
		if !ok {
			t.Errorf("%s/%s does not serve kafkachannels", messagingGroup, version)
			continue
		}
		if r.Kind != "KafkaChannel" || !r.Namespaced || !slices.Contains(r.ShortNames, "kc") {
			t.Errorf("%s: kafkachannels is kind %s, namespaced %t, short names %v", version, r.Kind, r.Namespaced, r.ShortNames)
		}
		for _, category := range []string{"all", "knative", "messaging", "channel"} {
			if !slices.Contains(r.Categories, category) {
				t.Errorf("%s: kafkachannels is not in category %q: %v", version, category, r.Categories)
			}
		}
		if _, ok := found["kafkachannels/status"]; !ok {
			t.Errorf("%s: subresource kafkachannels/status is not served", version)
		}
	}
}

// TestKafkaChannelWrittenAsV1IsReadAsV1beta1 writes a channel as v1, reads it back as v1beta1
// (the version our controller watches) with the schema's defaults, lists it as kubectl does under
// both versions, and has the server refuse a partition change made through v1.
func TestKafkaChannelWrittenAsV1IsReadAsV1beta1(t *testing.T) {
	c := kubetest.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := namespace(ctx, t, c, "kafkachannel-versions")

	kc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": messagingGroup + "/v1",
		"kind":       "KafkaChannel",
		"metadata":   map[string]any{"name": "orders", "namespace": ns},
		"spec": map[string]any{
			"numPartitions": int64(3),
			"delivery":      map[string]any{"retry": int64(2)},
		},
	}}
	if _, err := c.Dynamic.Resource(kafkaChannels("v1")).Namespace(ns).Create(ctx, kc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a v1 KafkaChannel: %v", err)
	}
	got, err := c.Dynamic.Resource(kafkaChannels("v1beta1")).Namespace(ns).Get(ctx, "orders", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading it as v1beta1: %v", err)
	}
	var read messagingv1beta1.KafkaChannel
	if err := convert(got.Object, &read); err != nil {
		t.Fatal(err)
	}
	if read.APIVersion != messagingGroup+"/v1beta1" {
		t.Errorf("read back as %s, want %s/v1beta1", read.APIVersion, messagingGroup)
	}
	want := messagingv1beta1.KafkaChannelSpec{
		NumPartitions:     3,
		ReplicationFactor: messagingv1beta1.DefaultReplicationFactor,
		RetentionDuration: messagingv1beta1.DefaultRetentionDuration,
	}
	retry := int32(2)
	want.Delivery = read.Spec.Delivery
	if read.Spec.Delivery == nil || read.Spec.Delivery.Retry == nil || *read.Spec.Delivery.Retry != retry {
		t.Errorf("spec.delivery read as v1beta1 = %+v, want retry 2", read.Spec.Delivery)
	}
	if diff := cmp.Diff(want, read.Spec); diff != "" {
		t.Errorf("spec read as v1beta1, defaulted by the schema (-want +got):\n%s", diff)
	}

	t.Run("kubectl get shows the printer columns under both versions", func(t *testing.T) {
		for _, version := range []string{"v1beta1", "v1"} {
			columns, row := table(ctx, t, c, "/apis/"+messagingGroup+"/"+version+"/namespaces/"+ns+"/kafkachannels")
			if diff := cmp.Diff([]string{"Name", "Ready", "Reason", "URL", "Age"}, columns); diff != "" {
				t.Errorf("%s: columns (-want +got):\n%s", version, diff)
			}
			if len(row) == 0 || row[0] != "orders" {
				t.Errorf("%s: row = %v", version, row)
			}
		}
	})

	t.Run("the partitions cannot change through v1", func(t *testing.T) {
		cur, err := c.Dynamic.Resource(kafkaChannels("v1")).Namespace(ns).Get(ctx, "orders", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cur.GetAPIVersion() != messagingGroup+"/v1" {
			t.Errorf("read as %s, want %s/v1", cur.GetAPIVersion(), messagingGroup)
		}
		if err := unstructured.SetNestedField(cur.Object, int64(5), "spec", "numPartitions"); err != nil {
			t.Fatal(err)
		}
		_, err = c.Dynamic.Resource(kafkaChannels("v1")).Namespace(ns).Update(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "numPartitions is immutable") {
			t.Errorf("updating numPartitions through v1: %v, want Invalid: numPartitions is immutable", err)
		}
	})
}
