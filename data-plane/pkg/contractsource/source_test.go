package contractsource

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"knkafka.dev/control-plane/pkg/contract"
)

// recorder collects applied generations.
type recorder chan uint64

func (r recorder) apply(_ context.Context, c *contract.Contract) error {
	r <- c.Generation
	return nil
}

func (r recorder) next(t *testing.T) uint64 {
	t.Helper()
	select {
	case g := <-r:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no contract applied within 10s")
		return 0
	}
}

func (r recorder) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case g := <-r:
		t.Fatalf("unexpected contract generation %d applied", g)
	case <-time.After(wait):
	}
}

func writeContract(t *testing.T, path string, c *contract.Contract) {
	t.Helper()
	b, err := contract.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileFollowsChangesAndKeepsTheLastGoodContract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contract.json")
	writeContract(t, path, &contract.Contract{Generation: 1})
	rec := make(recorder, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- NewFile(path, 10*time.Millisecond, zaptest.NewLogger(t)).Run(ctx, rec.apply) }()

	if g := rec.next(t); g != 1 {
		t.Fatalf("first generation %d, want 1", g)
	}
	writeContract(t, path, &contract.Contract{Generation: 2})
	if g := rec.next(t); g != 2 {
		t.Fatalf("after a change got generation %d, want 2", g)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec.none(t, 200*time.Millisecond)
	writeContract(t, path, &contract.Contract{Generation: 3})
	if g := rec.next(t); g != 3 {
		t.Fatalf("after a fix got generation %d, want 3", g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestFileReportsAMissingFileAtStart(t *testing.T) {
	err := NewFile(filepath.Join(t.TempDir(), "absent.json"), 0, zaptest.NewLogger(t)).
		Run(context.Background(), recorder(make(chan uint64, 1)).apply)
	if err == nil {
		t.Fatal("Run returned no error for a missing file")
	}
}

func publish(t *testing.T, client *fake.Clientset, c *contract.Contract, maxBytes int) {
	t.Helper()
	idx, shards, err := contract.Split(c, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	cms, err := contract.ConfigMaps("knative-eventing", idx, shards)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, cm := range cms {
		api := client.CoreV1().ConfigMaps(cm.Namespace)
		if _, err := api.Get(ctx, cm.Name, metav1.GetOptions{}); err == nil {
			_, err = api.Update(ctx, cm, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := api.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func manyEgresses(gen uint64, n int) *contract.Contract {
	r := contract.Resource{UID: "b", Topic: "t"}
	for i := 0; i < n; i++ {
		r.Egresses = append(r.Egresses, contract.Egress{UID: string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Destination: "http://subscriber.example.com/" + string(rune('a'+i%26))})
	}
	return &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: gen, Resources: []contract.Resource{r}}
}

func TestConfigMapsAppliesOnlyCompleteGenerations(t *testing.T) {
	client := fake.NewClientset()
	rec := make(recorder, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = NewConfigMaps(client, "knative-eventing", "", zaptest.NewLogger(t)).Run(ctx, rec.apply)
	}()

	publish(t, client, manyEgresses(1, 200), 1024)
	if g := rec.next(t); g != 1 {
		t.Fatalf("generation %d, want 1", g)
	}

	// An index that names generation 2 while the shards still hold generation 1 is not applied.
	idx := contract.Index{SchemaVersion: contract.SchemaVersion, Generation: 2, Shards: 1}
	cms, _ := contract.ConfigMaps("knative-eventing", idx, nil)
	if _, err := client.CoreV1().ConfigMaps("knative-eventing").Update(ctx, cms[0], metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.none(t, 300*time.Millisecond)

	publish(t, client, manyEgresses(2, 200), 1024)
	if g := rec.next(t); g != 2 {
		t.Fatalf("generation %d, want 2", g)
	}
}
