package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/admissionregistration/v1/mutatingwebhookconfiguration/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/admissionregistration/v1/validatingwebhookconfiguration/fake"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	_ "knative.dev/pkg/injection/clients/namespacedkube/informers/core/v1/secret/fake"
	reconcilertesting "knative.dev/pkg/reconciler/testing"
	_ "knative.dev/pkg/system/testing"
	pkgwebhook "knative.dev/pkg/webhook"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
)

// admit runs one admission request through the controller that newController builds, as the API
// server would send it.
func admit(t *testing.T, newController func(context.Context, configmap.Watcher) *controller.Impl, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	ctx, _ := reconcilertesting.SetupFakeContext(t)
	ctx = pkgwebhook.WithOptions(ctx, pkgwebhook.Options{SecretName: SecretName})
	impl := newController(ctx, configmap.NewStaticWatcher())
	ac, ok := impl.Reconciler.(pkgwebhook.AdmissionController)
	if !ok {
		t.Fatalf("%T is not an admission controller", impl.Reconciler)
	}
	return ac.Admit(ctx, req)
}

func raw(t *testing.T, obj any) runtime.RawExtension {
	t.Helper()
	if obj == nil {
		return runtime.RawExtension{}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

func request(t *testing.T, kind metav1.GroupVersionKind, op admissionv1.Operation, obj, old any) *admissionv1.AdmissionRequest {
	t.Helper()
	return &admissionv1.AdmissionRequest{
		Operation: op,
		Kind:      kind,
		Object:    raw(t, obj),
		OldObject: raw(t, old),
	}
}

var (
	kafkaChannelKind = metav1.GroupVersionKind{Group: "messaging.knative.dev", Version: "v1beta1", Kind: "KafkaChannel"}
	triggerKind      = metav1.GroupVersionKind{Group: "eventing.knative.dev", Version: "v1", Kind: "Trigger"}
	kafkaSourceKind  = metav1.GroupVersionKind{Group: "sources.knative.dev", Version: "v1beta1", Kind: "KafkaSource"}
	kafkaSinkKind    = metav1.GroupVersionKind{Group: "eventing.knative.dev", Version: "v1alpha1", Kind: "KafkaSink"}
)

func sink(topic string, mode any) map[string]any {
	spec := map[string]any{"topic": topic, "bootstrapServers": []any{"kafka:9092"}}
	if mode != nil {
		spec["contentMode"] = mode
	}
	return map[string]any{
		"apiVersion": "eventing.knative.dev/v1alpha1",
		"kind":       "KafkaSink",
		"metadata":   map[string]any{"name": "snk", "namespace": "ns"},
		"spec":       spec,
	}
}

func source(group string, labels map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "sources.knative.dev/v1beta1",
		"kind":       "KafkaSource",
		"metadata":   map[string]any{"name": "src", "namespace": "ns", "labels": labels},
		"spec": map[string]any{
			"bootstrapServers": []any{"kafka:9092"},
			"topics":           []any{"orders"},
			"consumerGroup":    group,
			"sink":             map[string]any{"uri": "http://sink.ns.svc"},
		},
	}
}

func channel(partitions int32) map[string]any {
	return map[string]any{
		"apiVersion": "messaging.knative.dev/v1beta1",
		"kind":       "KafkaChannel",
		"metadata":   map[string]any{"name": "ch", "namespace": "ns"},
		"spec":       map[string]any{"numPartitions": partitions, "replicationFactor": 1, "retentionDuration": "PT1H"},
	}
}

func trigger(annotations map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "eventing.knative.dev/v1",
		"kind":       "Trigger",
		"metadata":   map[string]any{"name": "t", "namespace": "ns", "annotations": annotations},
		"spec": map[string]any{
			"broker":                  "default",
			"subscriber":              map[string]any{"uri": "http://sub.ns.svc"},
			"aFieldFromANewerKnative": true,
		},
	}
}

func TestValidationController(t *testing.T) {
	tests := []struct {
		name        string
		req         func(t *testing.T) *admissionv1.AdmissionRequest
		wantAllowed bool
		wantMessage string
	}{{
		name: "valid KafkaChannel",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaChannelKind, admissionv1.Create, channel(3), nil)
		},
		wantAllowed: true,
	}, {
		name: "KafkaChannel without partitions",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaChannelKind, admissionv1.Create, channel(-1), nil)
		},
		wantMessage: "spec.numPartitions",
	}, {
		name: "KafkaChannel whose partitions change",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaChannelKind, admissionv1.Update, channel(3), channel(1))
		},
		wantMessage: "Immutable fields changed (-old +new): spec.numPartitions",
	}, {
		name: "valid KafkaSource",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSourceKind, admissionv1.Create, source("g", nil), nil)
		},
		wantAllowed: true,
	}, {
		name: "KafkaSource with an unknown key type",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSourceKind, admissionv1.Create, source("g", map[string]any{"kafkasources.sources.knative.dev/key-type": "long"}), nil)
		},
		wantMessage: "metadata.labels[kafkasources.sources.knative.dev/key-type]",
	}, {
		name: "KafkaSource whose consumer group changes",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSourceKind, admissionv1.Update, source("new", nil), source("old", nil))
		},
		wantMessage: "Immutable fields changed (-old +new): spec.consumerGroup",
	}, {
		name: "valid KafkaSink",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSinkKind, admissionv1.Create, sink("orders", "structured"), nil)
		},
		wantAllowed: true,
	}, {
		name: "KafkaSink with an unknown content mode",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSinkKind, admissionv1.Create, sink("orders", "batch"), nil)
		},
		wantMessage: "invalid value: batch: spec.contentMode",
	}, {
		name: "KafkaSink whose topic changes",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, kafkaSinkKind, admissionv1.Update, sink("refunds", nil), sink("orders", nil))
		},
		wantMessage: "Immutable fields changed (-old +new): spec.topic",
	}, {
		name: "Trigger delivered in order",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, triggerKind, admissionv1.Create, trigger(map[string]any{"kafka.eventing.knative.dev/delivery.order": "ordered"}), nil)
		},
		wantAllowed: true,
	}, {
		name: "Trigger without the annotation",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, triggerKind, admissionv1.Create, trigger(nil), nil)
		},
		wantAllowed: true,
	}, {
		name: "Trigger delivered in order per key (our extension)",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, triggerKind, admissionv1.Create, trigger(map[string]any{"kafka.eventing.knative.dev/delivery.order": "key-ordered"}), nil)
		},
		wantAllowed: true,
	}, {
		name: "Trigger delivery order in another case, as Knative's Kafka broker accepts it",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, triggerKind, admissionv1.Update, trigger(map[string]any{"kafka.eventing.knative.dev/delivery.order": "UNORDERED"}), trigger(nil))
		},
		wantAllowed: true,
	}, {
		name: "Trigger with an unknown delivery order",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			return request(t, triggerKind, admissionv1.Update, trigger(map[string]any{"kafka.eventing.knative.dev/delivery.order": "sometimes"}), trigger(nil))
		},
		wantMessage: "metadata.annotations[kafka.eventing.knative.dev/delivery.order]",
	}, {
		name: "KafkaChannel with a default delivery order for its Subscriptions",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			kc := channel(3)
			kc["metadata"].(map[string]any)["annotations"] = map[string]any{"kafka.eventing.knative.dev/delivery.order": "unordered"}
			return request(t, kafkaChannelKind, admissionv1.Create, kc, nil)
		},
		wantAllowed: true,
	}, {
		name: "KafkaChannel with an unknown delivery order",
		req: func(t *testing.T) *admissionv1.AdmissionRequest {
			kc := channel(3)
			kc["metadata"].(map[string]any)["annotations"] = map[string]any{"kafka.eventing.knative.dev/delivery.order": "sometimes"}
			return request(t, kafkaChannelKind, admissionv1.Create, kc, nil)
		},
		wantMessage: "metadata.annotations[kafka.eventing.knative.dev/delivery.order]",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := admit(t, NewValidationController, tt.req(t))
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("Allowed = %t, want %t (result: %+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if tt.wantMessage != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tt.wantMessage)) {
				t.Errorf("result = %+v, want a message containing %q", resp.Result, tt.wantMessage)
			}
		})
	}
}

func TestDefaultingController(t *testing.T) {
	kc := map[string]any{
		"apiVersion": "messaging.knative.dev/v1beta1",
		"kind":       "KafkaChannel",
		"metadata":   map[string]any{"name": "ch", "namespace": "ns"},
	}
	resp := admit(t, NewDefaultingController, request(t, kafkaChannelKind, admissionv1.Create, kc, nil))
	if !resp.Allowed {
		t.Fatalf("Allowed = false: %+v", resp.Result)
	}
	var patch []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &patch); err != nil {
		t.Fatalf("decoding patch %s: %v", resp.Patch, err)
	}
	got := map[string]any{}
	for _, p := range patch {
		got[p.Path] = p.Value
	}
	want := map[string]any{
		"/spec/numPartitions":     float64(messagingv1beta1.DefaultNumPartitions),
		"/spec/replicationFactor": float64(messagingv1beta1.DefaultReplicationFactor),
		"/spec/retentionDuration": messagingv1beta1.DefaultRetentionDuration,
	}
	for path, value := range want {
		if diff := cmp.Diff(value, got[path]); diff != "" {
			t.Errorf("patch of %s (-want +got):\n%s\nwhole patch: %s", path, diff, resp.Patch)
		}
	}
}

func TestDefaultingControllerDefaultsKafkaSources(t *testing.T) {
	ks := map[string]any{
		"apiVersion": "sources.knative.dev/v1beta1",
		"kind":       "KafkaSource",
		"metadata":   map[string]any{"name": "src", "namespace": "ns"},
		"spec":       map[string]any{"topics": []any{"t"}, "bootstrapServers": []any{"kafka:9092"}},
	}
	resp := admit(t, NewDefaultingController, request(t, kafkaSourceKind, admissionv1.Create, ks, nil))
	if !resp.Allowed {
		t.Fatalf("Allowed = false: %+v", resp.Result)
	}
	var patch []struct {
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &patch); err != nil {
		t.Fatalf("decoding patch %s: %v", resp.Patch, err)
	}
	got := map[string]any{}
	for _, p := range patch {
		got[p.Path] = p.Value
	}
	if g, _ := got["/spec/consumerGroup"].(string); !strings.HasPrefix(g, sourcesv1beta1.DefaultConsumerGroupPrefix) {
		t.Errorf("patched consumerGroup = %v, want %s<UUID>; whole patch: %s", got["/spec/consumerGroup"], sourcesv1beta1.DefaultConsumerGroupPrefix, resp.Patch)
	}
	want := map[string]any{
		"/spec/initialOffset": string(sourcesv1beta1.DefaultInitialOffset),
		"/spec/consumers":     float64(sourcesv1beta1.DefaultConsumers),
		"/spec/ordering":      string(sourcesv1beta1.DefaultOrdering),
	}
	for path, value := range want {
		if diff := cmp.Diff(value, got[path]); diff != "" {
			t.Errorf("patch of %s (-want +got):\n%s\nwhole patch: %s", path, diff, resp.Patch)
		}
	}
}

func TestDefaultingControllerDefaultsKafkaSinks(t *testing.T) {
	resp := admit(t, NewDefaultingController, request(t, kafkaSinkKind, admissionv1.Create, sink("orders", nil), nil))
	if !resp.Allowed {
		t.Fatalf("Allowed = false: %+v", resp.Result)
	}
	var patch []struct {
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &patch); err != nil {
		t.Fatalf("decoding patch %s: %v", resp.Patch, err)
	}
	got := map[string]any{}
	for _, p := range patch {
		got[p.Path] = p.Value
	}
	if got["/spec/contentMode"] != "binary" {
		t.Errorf("patch = %s, want /spec/contentMode = binary", resp.Patch)
	}
}
