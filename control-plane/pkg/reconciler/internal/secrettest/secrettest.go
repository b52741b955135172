// Package secrettest checks, for the reconcilers' controller tests, that a controller requeues
// exactly the objects that track a Secret when that Secret is created, changed or deleted.
package secrettest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/tracker"
)

// wait bounds how long a requeue may take to arrive.
const wait = 10 * time.Second

// CheckRequeues starts informers, makes owner track the Secret namespace/name through impl's
// tracker (as the reconciler does when it reads the Secret), then creates an unrelated Secret
// and the tracked one, rotates the tracked one and deletes it through the fake Kubernetes client
// of ctx. After each change to the tracked Secret, owner — and nothing else — must be in impl's
// work queue.
func CheckRequeues(ctx context.Context, t *testing.T, impl *controller.Impl, informers []controller.Informer, owner kmeta.Accessor, namespace, name string) {
	t.Helper()
	if err := controller.StartInformers(ctx.Done(), informers...); err != nil {
		t.Fatalf("starting informers: %v", err)
	}
	ref := tracker.Reference{APIVersion: "v1", Kind: "Secret", Namespace: namespace, Name: name}
	if err := impl.Tracker.TrackReference(ref, owner); err != nil {
		t.Fatal(err)
	}
	want := types.NamespacedName{Namespace: owner.GetNamespace(), Name: owner.GetName()}
	secrets := kubeclient.Get(ctx).CoreV1().Secrets(namespace)

	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-unrelated"}}
	if _, err := secrets.Create(ctx, unrelated, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data:       map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "user": []byte("u"), "password": []byte("p")},
	}
	created, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, impl, "creating the Secret", want)

	rotated := created.DeepCopy()
	rotated.Data["password"] = []byte("rotated")
	if _, err := secrets.Update(ctx, rotated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, impl, "rotating the password", want)

	if err := secrets.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, impl, "deleting the Secret", want)
}

// expect waits for one key in impl's queue, checks it is want and that it is alone, and marks
// it done.
func expect(t *testing.T, impl *controller.Impl, after string, want types.NamespacedName) {
	t.Helper()
	queue := impl.WorkQueue()
	deadline := time.Now().Add(wait)
	for queue.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, nothing was requeued within %v", after, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := queue.Len(); n != 1 {
		t.Errorf("after %s, %d keys were requeued, want only %v", after, n, want)
	}
	item, _ := queue.Get()
	defer queue.Done(item)
	queue.Forget(item)
	if item != want {
		t.Errorf("after %s, %v was requeued, want %v", after, item, want)
	}
}
