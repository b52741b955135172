package kafkaauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultSyncTimeout bounds how long Follow waits for a newly referenced Secret's first read.
const DefaultSyncTimeout = 10 * time.Second

// Kubernetes is the Source of a cluster: it watches each Secret the contract references with a
// watch of its own (a list and watch in the Secret's namespace, narrowed to its name by a
// metadata.name field selector), started when a contract first references the Secret and
// stopped when none does any more. It never lists or watches any other Secret, so the data
// plane needs list and watch on Secrets but never sees the ones it does not use.
type Kubernetes struct {
	client      kubernetes.Interface
	logger      *zap.Logger
	syncTimeout time.Duration
	changes     chan struct{}

	mu      sync.Mutex
	watches map[Ref]*secretWatch
	closed  bool
}

type secretWatch struct {
	informer cache.SharedIndexInformer
	synced   cache.InformerSynced
	stop     chan struct{}
}

// NewKubernetes returns a Kubernetes source that reads Secrets through client and logs to
// logger (nil for none). It watches nothing until Follow.
func NewKubernetes(client kubernetes.Interface, logger *zap.Logger) *Kubernetes {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Kubernetes{
		client:      client,
		logger:      logger,
		syncTimeout: DefaultSyncTimeout,
		changes:     make(chan struct{}, 1),
		watches:     map[Ref]*secretWatch{},
	}
}

// Follow watches exactly refs from now on: it stops the watches of Secrets no longer
// referenced, starts one per new Secret and waits (bounded by ctx and DefaultSyncTimeout) until
// each new one was listed, so that Secret answers for it. A Secret whose first list did not
// complete in time (no access, an unreachable API server) is named in the error; it keeps being
// retried, and Changes fires when it is read.
func (k *Kubernetes) Follow(ctx context.Context, refs []Ref) error {
	want := make(map[Ref]bool, len(refs))
	for _, r := range refs {
		want[r] = true
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errors.New("following secrets: the source is closed")
	}
	for ref, w := range k.watches {
		if !want[ref] {
			close(w.stop)
			delete(k.watches, ref)
			k.logger.Info("stopped watching a secret", zap.Stringer("secret", ref))
		}
	}
	started := map[Ref]*secretWatch{}
	for ref := range want {
		if _, ok := k.watches[ref]; ok {
			continue
		}
		w, err := k.watch(ref)
		if err != nil {
			k.mu.Unlock()
			return err
		}
		k.watches[ref], started[ref] = w, w
		k.logger.Info("watching a secret", zap.Stringer("secret", ref))
	}
	k.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, k.syncTimeout)
	defer cancel()
	var unsynced []string
	for ref, w := range started {
		if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
			unsynced = append(unsynced, ref.String())
			// Its first read, when it comes, is a change: the contract was applied without it.
			go func() {
				if cache.WaitForCacheSync(w.stop, w.synced) {
					k.changed(ref, "read late")
				}
			}()
		}
	}
	if len(unsynced) > 0 {
		return fmt.Errorf("secrets %q not read within %s (check the data plane's access to them)", unsynced, k.syncTimeout)
	}
	return nil
}

// watch starts the informer of ref; the caller holds mu.
func (k *Kubernetes) watch(ref Ref) (*secretWatch, error) {
	selector := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	inf := coreinformers.NewFilteredSecretInformer(k.client, ref.Namespace, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = selector })
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial {
				k.changed(ref, "created")
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.Secret)
			n, ok2 := newObj.(*corev1.Secret)
			if !ok1 || !ok2 || !equalData(o.Data, n.Data) {
				k.changed(ref, "updated")
			}
		},
		DeleteFunc: func(any) { k.changed(ref, "deleted") },
	})
	if err != nil {
		return nil, fmt.Errorf("watching secret %s: %w", ref, err)
	}
	w := &secretWatch{informer: inf, synced: reg.HasSynced, stop: make(chan struct{})}
	go inf.Run(w.stop)
	return w, nil
}

func (k *Kubernetes) changed(ref Ref, what string) {
	k.logger.Info("a referenced secret changed", zap.Stringer("secret", ref), zap.String("change", what))
	select {
	case k.changes <- struct{}{}:
	default:
	}
}

// Secret returns the data of namespace/name as last read; not found when it does not exist, is
// not followed, or was not read yet.
func (k *Kubernetes) Secret(namespace, name string) (map[string][]byte, bool) {
	k.mu.Lock()
	w, ok := k.watches[Ref{Namespace: namespace, Name: name}]
	k.mu.Unlock()
	if !ok {
		return nil, false
	}
	obj, exists, err := w.informer.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return nil, false
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return nil, false
	}
	return s.Data, true
}

// Changes receives a value when a followed Secret was created, its data changed, or it was
// deleted.
func (k *Kubernetes) Changes() <-chan struct{} { return k.changes }

// Close stops every watch. It is idempotent.
func (k *Kubernetes) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for ref, w := range k.watches {
		close(w.stop)
		delete(k.watches, ref)
	}
	k.closed = true
}
