package kubetest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"knative.dev/eventing/pkg/apis/eventing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventinginformers "knative.dev/eventing/pkg/client/informers/externalversions"

	"knkafka.dev/test/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// slowCreate is well below the 2 s kube-apiserver adds to creates right after a CRD is Established,
// which kubetest.Env waits out.
const slowCreate = 1500 * time.Millisecond

func TestEnvInstallsCRDsAndWritesKubeconfig(t *testing.T) {
	c := kubetest.Env(t)
	if !slices.Contains(c.CRDs, "brokers.eventing.knative.dev") || len(c.CRDs) < 17 {
		t.Errorf("CRDs = %v, want the 17 Knative eventing core CRDs, brokers.eventing.knative.dev among them", c.CRDs)
	}

	// Every CRD the repository ships is installed too.
	ours, err := kubetest.ReadManifests("../../config")
	if err != nil {
		t.Fatalf("reading the repository's config/: %v", err)
	}
	for _, o := range ours {
		if o.GetKind() == "CustomResourceDefinition" && !slices.Contains(c.CRDs, o.GetName()) {
			t.Errorf("CRD %s from config/ is not installed; installed: %v", o.GetName(), c.CRDs)
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", c.Kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("asking the server version through the kubeconfig: %v", err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.") {
		t.Errorf("server version = %q, want a v1.x kube-apiserver", v.GitVersion)
	}
	t.Logf("kube-apiserver %s; start-up took %s", v.GitVersion, c.StartupTime)
	if _, err := kube.CoreV1().Namespaces().Get(context.Background(), metav1.NamespaceDefault, metav1.GetOptions{}); err != nil {
		t.Errorf("reading the default namespace through the kubeconfig: %v", err)
	}
}

func TestBrokerLifecycle(t *testing.T) {
	c := kubetest.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := createNamespace(ctx, t, c, "kubetest-broker")

	events := make(chan string, 10)
	factory := eventinginformers.NewSharedInformerFactoryWithOptions(c.Eventing, 0, eventinginformers.WithNamespace(ns))
	informer := factory.Eventing().V1().Brokers().Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { events <- "add " + obj.(*eventingv1.Broker).Name },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			events <- "delete " + obj.(*eventingv1.Broker).Name
		},
	}); err != nil {
		t.Fatalf("adding the informer's handler: %v", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	for typ, ok := range factory.WaitForCacheSync(stop) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}

	brokers := c.Eventing.EventingV1().Brokers(ns)
	began := time.Now()
	created, err := brokers.Create(ctx, &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{
		Name:        "smoke",
		Namespace:   ns,
		Annotations: map[string]string{eventing.BrokerClassKey: "Kafka"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Broker: %v", err)
	}
	if took := time.Since(began); took > slowCreate {
		t.Errorf("creating the Broker took %s, want under %s", took, slowCreate)
	}

	got, err := brokers.Get(ctx, "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the Broker back: %v", err)
	}
	if got.UID != created.UID || got.Annotations[eventing.BrokerClassKey] != "Kafka" {
		t.Errorf("read back uid=%s annotations=%v, want uid=%s and class Kafka", got.UID, got.Annotations, created.UID)
	}

	waitEvent(t, events, "add smoke")
	if err := brokers.Delete(ctx, "smoke", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the Broker: %v", err)
	}
	waitEvent(t, events, "delete smoke")
	if _, err := brokers.Get(ctx, "smoke", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("reading the deleted Broker: err = %v, want NotFound", err)
	}
}

func TestApply(t *testing.T) {
	c := kubetest.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := createNamespace(ctx, t, c, "kubetest-apply") // the namespace testdata/apply.yaml names
	cfg := c.Config()

	dry := kubetest.Apply(t, cfg, "testdata/apply.yaml", true)
	if diff := cmp.Diff([]string{"ConfigMap kafka-broker-config", "Broker applied"}, kindNames(dry)); diff != "" {
		t.Errorf("dry run returned (-want +got):\n%s", diff)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "kafka-broker-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap after a dry run: err = %v, want NotFound", err)
	}
	if _, err := c.Eventing.EventingV1().Brokers(ns).Get(ctx, "applied", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Broker after a dry run: err = %v, want NotFound", err)
	}

	began := time.Now()
	applied := kubetest.Apply(t, cfg, "testdata/apply.yaml", false)
	if took := time.Since(began); took > slowCreate {
		t.Errorf("applying took %s, want under %s", took, slowCreate)
	}
	if diff := cmp.Diff([]string{"ConfigMap kafka-broker-config", "Broker applied"}, kindNames(applied)); diff != "" {
		t.Errorf("apply returned (-want +got):\n%s", diff)
	}
	cm, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "kafka-broker-config", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the applied ConfigMap: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"bootstrap.servers": "127.0.0.1:9092", "default.topic.partitions": "10"}, cm.Data); diff != "" {
		t.Errorf("ConfigMap data (-want +got):\n%s", diff)
	}
	if !managedBy(cm.ManagedFields, kubetest.FieldManager) {
		t.Errorf("ConfigMap managed fields %v have no Apply entry by %q", cm.ManagedFields, kubetest.FieldManager)
	}
	b, err := c.Eventing.EventingV1().Brokers(ns).Get(ctx, "applied", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the applied Broker: %v", err)
	}
	if b.Annotations[eventing.BrokerClassKey] != "Kafka" || b.Spec.Delivery == nil || b.Spec.Delivery.Retry == nil ||
		*b.Spec.Delivery.Retry != 3 || b.Spec.Config == nil || b.Spec.Config.Name != "kafka-broker-config" {
		t.Errorf("applied Broker = %+v, want class Kafka, retry 3 and config kafka-broker-config", b)
	}

	again := kubetest.Apply(t, cfg, "testdata/apply.yaml", false)
	if again[0].GetResourceVersion() != cm.ResourceVersion {
		t.Errorf("re-applying changed the ConfigMap: resourceVersion %s, was %s", again[0].GetResourceVersion(), cm.ResourceVersion)
	}
}

func TestApplyDryRunRejectsInvalidObjects(t *testing.T) {
	c := kubetest.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createNamespace(ctx, t, c, "kubetest-apply")
	objs, err := kubetest.ReadManifests("testdata/invalid-broker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubetest.ApplyManifests(ctx, c.Config(), objs, true)
	if err == nil || !strings.Contains(err.Error(), "spec.delivery.retry") {
		t.Errorf("dry-run apply of a Broker with retry: three: err = %v, want a schema error on spec.delivery.retry", err)
	}
}

// createNamespace creates a namespace, tolerating one that an earlier test created. Tests do not
// delete their namespaces: without kube-controller-manager a deleted namespace stays Terminating
// for good and refuses new objects.
func createNamespace(ctx context.Context, t *testing.T, c *kubetest.Cluster, name string) string {
	t.Helper()
	_, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

func waitEvent(t *testing.T, events <-chan string, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-events:
			if got == want {
				return
			}
			t.Logf("informer: %s (waiting for %s)", got, want)
		case <-timeout:
			t.Fatalf("the informer did not see %q within 10 s", want)
		}
	}
}

func kindNames(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+" "+o.GetName())
	}
	return out
}

func managedBy(entries []metav1.ManagedFieldsEntry, manager string) bool {
	for _, e := range entries {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}
