package kafkaauth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"knkafka.dev/test/kubetest"
)

// The Kubernetes source on a real API server: it reads the referenced Secrets (stringData merged
// by the server), reports their creation, changes and deletion, and neither holds nor reports
// Secrets the contract does not reference.
func TestKubernetesFollowsOnlyReferencedSecrets(t *testing.T) {
	kube := kubetest.Env(t).Kube
	ns := fmt.Sprintf("kafkaauth-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secrets := kube.CoreV1().Secrets(ns)
	create := func(name string, data map[string]string) {
		t.Helper()
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(name string, change func(*corev1.Secret)) {
		t.Helper()
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		change(s)
		if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("kafka-auth", map[string]string{"user": "alice", "password": password})
	create("unrelated", map[string]string{"user": "eve"})

	k := NewKubernetes(kube, zaptest.NewLogger(t))
	defer k.Close()
	refs := []Ref{{ns, "kafka-auth"}, {ns, "later"}}
	if err := k.Follow(ctx, refs); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	expectUser(t, k, ns, "kafka-auth", "alice")
	expectAbsent(t, k, ns, "later")
	expectAbsent(t, k, ns, "unrelated")
	for ref, w := range k.watches {
		if n := len(w.informer.GetStore().List()); n > 1 {
			t.Errorf("the watch of %s holds %d secrets; it must see only its own", ref, n)
		}
	}

	// Secrets nobody references change silently.
	update("unrelated", func(s *corev1.Secret) { s.Data["user"] = []byte("mallory") })
	noChange(t, k, "an unreferenced secret changed")
	// A change that leaves the data alone is not a change of credentials.
	update("kafka-auth", func(s *corev1.Secret) { s.Labels = map[string]string{"touched": "yes"} })
	noChange(t, k, "a referenced secret's labels changed")

	update("kafka-auth", func(s *corev1.Secret) { s.Data["user"] = []byte("bob") })
	waitChange(t, k, "the referenced secret's data changed")
	expectUser(t, k, ns, "kafka-auth", "bob")

	create("later", map[string]string{"user": "carol"})
	waitChange(t, k, "a referenced secret was created")
	expectUser(t, k, ns, "later", "carol")

	if err := secrets.Delete(ctx, "kafka-auth", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitChange(t, k, "a referenced secret was deleted")
	expectAbsent(t, k, ns, "kafka-auth")

	// No longer referenced: no longer watched.
	if err := k.Follow(ctx, []Ref{{ns, "later"}}); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if len(k.watches) != 1 {
		t.Errorf("%d watches after the contract dropped a secret, want 1", len(k.watches))
	}
	create("kafka-auth", map[string]string{"user": "dave"})
	noChange(t, k, "a secret no longer referenced was created")
	expectAbsent(t, k, ns, "kafka-auth")
}

// Follow of a Secret the data plane may not read returns, bounded, an error naming it.
func TestKubernetesFollowIsBounded(t *testing.T) {
	cfg := kubetest.Env(t).Config()
	cfg.Host = "http://127.0.0.1:1" // nothing listens: the first list never completes
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := NewKubernetes(client, zaptest.NewLogger(t))
	k.syncTimeout = time.Second
	defer k.Close()
	start := time.Now()
	err = k.Follow(context.Background(), []Ref{{"ns", "kafka-auth"}})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("Follow = %v after %s, want an error within the sync timeout", err, time.Since(start))
	}
	if want := "ns/kafka-auth"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func expectUser(t *testing.T, k *Kubernetes, ns, name, user string) {
	t.Helper()
	data, ok := k.Secret(ns, name)
	if !ok || string(data["user"]) != user {
		t.Errorf("Secret(%s/%s) = user %q, found %v; want %q", ns, name, data["user"], ok, user)
	}
}

func expectAbsent(t *testing.T, k *Kubernetes, ns, name string) {
	t.Helper()
	if _, ok := k.Secret(ns, name); ok {
		t.Errorf("Secret(%s/%s) found, want none", ns, name)
	}
}

func waitChange(t *testing.T, k *Kubernetes, what string) {
	t.Helper()
	select {
	case <-k.Changes():
	case <-time.After(10 * time.Second):
		t.Fatalf("no change reported within 10s after %s", what)
	}
}

func noChange(t *testing.T, k *Kubernetes, what string) {
	t.Helper()
	select {
	case <-k.Changes():
		t.Errorf("a change was reported after %s", what)
	case <-time.After(time.Second):
	}
}

// A Secret whose first read came after Follow stopped waiting is reported as a change, so the
// contract applied without it is applied again.
func TestKubernetesReportsALateFirstRead(t *testing.T) {
	env := kubetest.Env(t)
	kube := env.Kube
	ns := fmt.Sprintf("kafkaauth-late-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kafka-auth"},
		StringData: map[string]string{"user": "alice"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The source's client holds every read of Secrets (a list, or the watch that streams the
	// initial list) until release is closed, so that its first read cannot answer before Follow
	// gives up — however the goroutines happen to be scheduled.
	release := make(chan struct{})
	cfg := env.Config()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return heldLists{next: rt, release: release}
	}
	held, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := NewKubernetes(held, zaptest.NewLogger(t))
	k.syncTimeout = 200 * time.Millisecond
	defer k.Close()
	if err := k.Follow(ctx, []Ref{{ns, "kafka-auth"}}); err == nil {
		t.Fatal("Follow waited for a read it had no time for")
	}
	close(release)
	waitChange(t, k, "the secret was read after Follow stopped waiting")
	expectUser(t, k, ns, "kafka-auth", "alice")
}

// heldLists is a RoundTripper that holds reads of Secrets until release is closed or the request
// ends.
type heldLists struct {
	next    http.RoundTripper
	release <-chan struct{}
}

func (h heldLists) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/secrets") {
		select {
		case <-h.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return h.next.RoundTrip(req)
}
