package manifests

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	fakemwhinformer "knative.dev/pkg/client/injection/kube/informers/admissionregistration/v1/mutatingwebhookconfiguration/fake"
	fakevwhinformer "knative.dev/pkg/client/injection/kube/informers/admissionregistration/v1/validatingwebhookconfiguration/fake"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	fakesecretinformer "knative.dev/pkg/injection/clients/namespacedkube/informers/core/v1/secret/fake"
	pkgreconciler "knative.dev/pkg/reconciler"
	reconcilertesting "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"
	_ "knative.dev/pkg/system/testing" // sets SYSTEM_NAMESPACE for the webhook's reconcilers
	pkgwebhook "knative.dev/pkg/webhook"
	certresources "knative.dev/pkg/webhook/certificates/resources"

	"knkafka.dev/control-plane/pkg/webhook"
)

// webhookEntry is the one webhook of a configuration, as config/ ships it.
type webhookEntry struct {
	name          string
	service       *admissionregistrationv1.ServiceReference
	failurePolicy *admissionregistrationv1.FailurePolicyType
	sideEffects   *admissionregistrationv1.SideEffectClass
}

// TestWebhookConfigurationsCallTheWebhook: both configurations exist under the names the webhook
// keeps (Knative's Kafka broker's), hold one webhook named like the configuration (the only one
// Knative updates), fail closed, and call the webhook's Service on a port that reaches the port
// the webhook listens on; the certificate Secret exists.
func TestWebhookConfigurationsCallTheWebhook(t *testing.T) {
	objs := config(t)
	var entries []webhookEntry
	if m, ok := findClusterScoped[*admissionregistrationv1.MutatingWebhookConfiguration](objs, webhook.DefaultingWebhookName); !ok {
		t.Errorf("MutatingWebhookConfiguration %s does not exist", webhook.DefaultingWebhookName)
	} else if len(m.Webhooks) != 1 {
		t.Errorf("%s has %d webhooks, want 1", m.Name, len(m.Webhooks))
	} else {
		w := m.Webhooks[0]
		entries = append(entries, webhookEntry{m.Name, w.ClientConfig.Service, w.FailurePolicy, w.SideEffects})
		if w.Name != m.Name {
			t.Errorf("%s: webhook %q: Knative updates only the webhook named like its configuration", m.Name, w.Name)
		}
	}
	if v, ok := findClusterScoped[*admissionregistrationv1.ValidatingWebhookConfiguration](objs, webhook.ValidationWebhookName); !ok {
		t.Errorf("ValidatingWebhookConfiguration %s does not exist", webhook.ValidationWebhookName)
	} else if len(v.Webhooks) != 1 {
		t.Errorf("%s has %d webhooks, want 1", v.Name, len(v.Webhooks))
	} else {
		w := v.Webhooks[0]
		entries = append(entries, webhookEntry{v.Name, w.ClientConfig.Service, w.FailurePolicy, w.SideEffects})
		if w.Name != v.Name {
			t.Errorf("%s: webhook %q: Knative updates only the webhook named like its configuration", v.Name, w.Name)
		}
	}
	if _, ok := find[*corev1.Secret](objs, systemNamespace, webhook.SecretName); !ok {
		t.Errorf("Secret %s/%s (the webhook's certificate) does not exist", systemNamespace, webhook.SecretName)
	}

	d := oneDeploymentOf(t, objs, webhookImage)
	c := &d.Spec.Template.Spec.Containers[0]
	name, ok := envValue(c, "WEBHOOK_NAME")
	if !ok || name.Value == "" {
		t.Fatal("the webhook Deployment does not set WEBHOOK_NAME, which names its Service and certificate")
	}
	listen := int32(8443) // control-plane/cmd/webhook's default
	if p, ok := envValue(c, "WEBHOOK_PORT"); ok {
		n, err := strconv.ParseInt(p.Value, 10, 32)
		if err != nil {
			t.Fatalf("WEBHOOK_PORT=%q: %v", p.Value, err)
		}
		listen = int32(n)
	}
	if !hasContainerPort(c, listen) {
		t.Errorf("the webhook container does not declare its port %d", listen)
	}
	for _, e := range entries {
		if e.failurePolicy == nil || *e.failurePolicy != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy is not Fail", e.name)
		}
		if e.sideEffects == nil || *e.sideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("%s: sideEffects is not None", e.name)
		}
		if e.service == nil {
			t.Errorf("%s: clientConfig names no Service", e.name)
			continue
		}
		if e.service.Name != name.Value {
			t.Errorf("%s: calls Service %s, but the webhook's certificate is for WEBHOOK_NAME=%s", e.name, e.service.Name, name.Value)
		}
		svc, ok := find[*corev1.Service](objs, e.service.Namespace, e.service.Name)
		if !ok {
			t.Errorf("%s: Service %s/%s does not exist", e.name, e.service.Namespace, e.service.Name)
			continue
		}
		if !selects(svc, d) {
			t.Errorf("%s: Service %s does not select the webhook's pods", e.name, svc.Name)
		}
		port := int32(443)
		if e.service.Port != nil {
			port = *e.service.Port
		}
		var target *intstr.IntOrString
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				target = &p.TargetPort
			}
		}
		if target == nil {
			t.Errorf("%s: Service %s has no port %d", e.name, svc.Name, port)
		} else if got, ok := containerPort(c, *target); !ok || got != listen {
			t.Errorf("%s: Service %s port %d reaches container port %d, want the webhook's %d", e.name, svc.Name, port, got, listen)
		}
	}
}

// TestWebhookKeepsTheConfigurationsAsShipped runs the webhook's own admission controllers
// against the configurations of config/ and checks they change nothing but the CA bundle: the
// rules, paths and selectors we ship are the ones the webhook writes, so `kubectl apply` and the
// webhook never undo each other, and a dry-run of config/ validates what will really be served.
func TestWebhookKeepsTheConfigurationsAsShipped(t *testing.T) {
	objs := config(t)
	t.Run("defaulting", func(t *testing.T) {
		shipped, ok := findClusterScoped[*admissionregistrationv1.MutatingWebhookConfiguration](objs, webhook.DefaultingWebhookName)
		if !ok {
			t.Fatalf("config/ has no MutatingWebhookConfiguration %q", webhook.DefaultingWebhookName)
		}
		ctx := webhookContext(t)
		if err := fakemwhinformer.Get(ctx).Informer().GetIndexer().Add(shipped.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		client := fakekubeclient.Get(ctx).AdmissionregistrationV1().MutatingWebhookConfigurations()
		if _, err := client.Create(ctx, shipped.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		reconcile(ctx, t, webhook.NewDefaultingController, shipped.Name)
		got, err := client.Get(ctx, shipped.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Webhooks {
			got.Webhooks[i].ClientConfig.CABundle = nil
		}
		if diff := cmp.Diff(shipped.Webhooks, got.Webhooks); diff != "" {
			t.Errorf("the webhook rewrites %s (-shipped +written):\n%s", shipped.Name, diff)
		}
	})
	t.Run("validation", func(t *testing.T) {
		shipped, ok := findClusterScoped[*admissionregistrationv1.ValidatingWebhookConfiguration](objs, webhook.ValidationWebhookName)
		if !ok {
			t.Fatalf("config/ has no ValidatingWebhookConfiguration %q", webhook.ValidationWebhookName)
		}
		ctx := webhookContext(t)
		if err := fakevwhinformer.Get(ctx).Informer().GetIndexer().Add(shipped.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		client := fakekubeclient.Get(ctx).AdmissionregistrationV1().ValidatingWebhookConfigurations()
		if _, err := client.Create(ctx, shipped.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		reconcile(ctx, t, webhook.NewValidationController, shipped.Name)
		got, err := client.Get(ctx, shipped.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Webhooks {
			got.Webhooks[i].ClientConfig.CABundle = nil
		}
		if diff := cmp.Diff(shipped.Webhooks, got.Webhooks); diff != "" {
			t.Errorf("the webhook rewrites %s (-shipped +written):\n%s", shipped.Name, diff)
		}
	})
}

// webhookContext is a fake injection context holding what the admission controllers read
// besides their configuration: the system Namespace (the configurations' owner) and a
// certificate Secret with a CA.
func webhookContext(t *testing.T) context.Context {
	t.Helper()
	ctx, _ := reconcilertesting.SetupFakeContext(t)
	ctx = pkgwebhook.WithOptions(ctx, pkgwebhook.Options{SecretName: webhook.SecretName})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: system.Namespace(), UID: "ns-uid"}}
	if _, err := fakekubeclient.Get(ctx).CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: system.Namespace(), Name: webhook.SecretName},
		Data:       map[string][]byte{certresources.CACert: []byte("a CA")},
	}
	if err := fakesecretinformer.Get(ctx).Informer().GetIndexer().Add(secret); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// reconcile builds an admission controller, makes it the leader and reconciles its configuration once.
func reconcile(ctx context.Context, t *testing.T, newController func(context.Context, configmap.Watcher) *controller.Impl, name string) {
	t.Helper()
	impl := newController(ctx, configmap.NewStaticWatcher())
	la, ok := impl.Reconciler.(pkgreconciler.LeaderAware)
	if !ok {
		t.Fatalf("%T is not leader-aware", impl.Reconciler)
	}
	if err := la.Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {}); err != nil {
		t.Fatal(err)
	}
	if err := impl.Reconciler.Reconcile(ctx, name); err != nil {
		t.Fatalf("reconciling %s: %v", name, err)
	}
}

// findClusterScoped returns the cluster-scoped object of type T named name.
func findClusterScoped[T named](objs []object, name string) (T, bool) {
	return find[T](objs, "", name)
}
