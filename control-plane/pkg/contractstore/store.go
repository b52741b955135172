// Package contractstore holds the routing contract the reconcilers build, piece by piece, and
// publishes it to the contract ConfigMaps (see contract.Split) when its content changes. Store is
// the one writer: reconcilers set and delete resources and egresses; Run publishes changes in
// batches, bumping the generation only when the content really changed, and remembers at which
// generation each resource and egress was last changed, so a reconciler can tell whether the data
// plane has applied it (Published).
//
// A Store starts from the contract already published: after a controller restart the first
// reconcile must not publish a contract holding only the objects reconciled so far, which would
// stop every other route until its turn came. Entries leave the store only through Delete*,
// which reconcilers call from finalizers, so an object deleted while the controller was down is
// still removed when its finalizer runs.
package contractstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"knkafka.dev/control-plane/pkg/contract"
)

// MaxShardBytes keeps each shard ConfigMap well under Kubernetes' 1 MiB object limit.
const MaxShardBytes = 900 << 10

// Store is the desired contract and its publisher. It is safe for concurrent use.
type Store struct {
	client    kubernetes.Interface
	namespace string
	logger    *zap.Logger
	debounce  time.Duration

	mu         sync.Mutex
	resources  map[string]contract.Resource          // by resource UID, without egresses
	egresses   map[string]map[string]contract.Egress // resource UID → egress UID → egress
	changed    map[string]bool                       // UIDs changed since the last publication
	published  map[string]uint64                     // UID → generation its current content was published in
	generation uint64                                // last published generation
	lastBody   []byte                                // JSON of the last published resources
	wake       chan struct{}
	loaded     bool
}

// New returns a Store publishing to the contract ConfigMaps in namespace.
func New(client kubernetes.Interface, namespace string, logger *zap.Logger) *Store {
	return &Store{
		client: client, namespace: namespace, logger: logger, debounce: 50 * time.Millisecond,
		resources: map[string]contract.Resource{}, egresses: map[string]map[string]contract.Egress{},
		changed: map[string]bool{}, published: map[string]uint64{}, wake: make(chan struct{}, 1),
	}
}

// SetResource sets a resource's entry; r.Egresses is ignored (egresses are set one by one).
func (s *Store) SetResource(r contract.Resource) {
	r.Egresses = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.resources[r.UID]; ok && equalJSON(old, r) {
		return
	}
	s.resources[r.UID] = r
	s.markChanged(r.UID)
}

// DeleteResource removes a resource and all its egresses.
func (s *Store) DeleteResource(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.resources[uid]; !ok && s.egresses[uid] == nil {
		return
	}
	delete(s.resources, uid)
	for eg := range s.egresses[uid] {
		delete(s.published, eg)
	}
	delete(s.egresses, uid)
	delete(s.published, uid)
	s.markChanged(uid)
}

// SetEgress sets one egress of a resource. An egress whose resource is not set is kept and
// published once the resource is.
func (s *Store) SetEgress(resourceUID string, e contract.Egress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	egs := s.egresses[resourceUID]
	if egs == nil {
		egs = map[string]contract.Egress{}
		s.egresses[resourceUID] = egs
	}
	if old, ok := egs[e.UID]; ok && equalJSON(old, e) {
		return
	}
	egs[e.UID] = e
	s.markChanged(e.UID)
}

// DeleteEgress removes one egress.
func (s *Store) DeleteEgress(resourceUID, egressUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.egresses[resourceUID][egressUID]; !ok {
		return
	}
	delete(s.egresses[resourceUID], egressUID)
	delete(s.published, egressUID)
	s.markChanged(egressUID)
}

// Published reports the contract generation in which the current content of the resource or
// egress uid was published; false while it waits to be published (or is unknown).
func (s *Store) Published(uid string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed[uid] {
		return 0, false
	}
	g, ok := s.published[uid]
	return g, ok
}

// Generation is the last published generation.
func (s *Store) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generation
}

func (s *Store) markChanged(uid string) {
	s.changed[uid] = true
	s.markDirty()
}

func (s *Store) markDirty() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Contract returns the desired contract at the next generation, sorted by UID. Egresses of a
// resource that is not set are left out.
func (s *Store) Contract() *contract.Contract {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contractLocked(s.generation + 1)
}

func (s *Store) contractLocked(gen uint64) *contract.Contract {
	c := &contract.Contract{SchemaVersion: contract.SchemaVersion, Generation: gen, Resources: make([]contract.Resource, 0, len(s.resources))}
	for uid, r := range s.resources {
		for _, e := range s.egresses[uid] {
			r.Egresses = append(r.Egresses, e)
		}
		sort.Slice(r.Egresses, func(i, j int) bool { return r.Egresses[i].UID < r.Egresses[j].UID })
		c.Resources = append(c.Resources, r)
	}
	sort.Slice(c.Resources, func(i, j int) bool { return c.Resources[i].UID < c.Resources[j].UID })
	return c
}

// Run publishes changes until ctx ends, batching changes that arrive within the debounce
// interval and retrying failed publications.
func (s *Store) Run(ctx context.Context) {
	// Publish once at start: on a fresh install the data plane waits for a first contract
	// before it reports ready.
	s.markDirty()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.debounce):
		}
		if err := s.Publish(ctx); err != nil && ctx.Err() == nil {
			s.logger.Error("publishing the contract; retrying", zap.Error(err))
			time.AfterFunc(time.Second, func() {
				select {
				case s.wake <- struct{}{}:
				default:
				}
			})
		}
	}
}

// Publish writes the contract now if its content changed since the last publication.
func (s *Store) Publish(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	pending := s.changed
	s.changed = map[string]bool{}
	c := s.contractLocked(s.generation + 1)
	body, err := json.Marshal(c.Resources)
	if err != nil {
		s.restore(pending)
		s.mu.Unlock()
		return fmt.Errorf("encoding contract: %w", err)
	}
	if bytes.Equal(body, s.lastBody) {
		for uid := range pending {
			if s.exists(uid) {
				s.published[uid] = s.generation
			}
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	if err := s.write(ctx, c); err != nil {
		s.mu.Lock()
		s.restore(pending)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation, s.lastBody = c.Generation, body
	for uid := range pending {
		if s.exists(uid) {
			s.published[uid] = c.Generation
		}
	}
	s.logger.Info("contract published", zap.Uint64("generation", c.Generation), zap.Int("resources", len(c.Resources)))
	return nil
}

// restore puts back changes whose publication failed, keeping ones made meanwhile.
func (s *Store) restore(pending map[string]bool) {
	for uid := range pending {
		s.changed[uid] = true
	}
}

func (s *Store) exists(uid string) bool {
	if _, ok := s.resources[uid]; ok {
		return true
	}
	for _, egs := range s.egresses {
		if _, ok := egs[uid]; ok {
			return true
		}
	}
	return false
}

// load reads the contract already published, once: generations keep increasing across
// controller restarts (the data plane ignores a generation it has already applied), and the
// published entries are the store's starting point.
func (s *Store) load(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if loaded {
		return nil
	}
	published, err := s.readPublished(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return nil
	}
	s.loaded = true
	if published == nil {
		return nil
	}
	s.generation = max(s.generation, published.Generation)
	// Seed what reconcilers have not set yet; their own entries (already in the maps) win.
	for _, r := range published.Resources {
		egs := r.Egresses
		r.Egresses = nil
		if _, ok := s.resources[r.UID]; !ok {
			s.resources[r.UID] = r
			s.published[r.UID] = published.Generation
		}
		for _, e := range egs {
			if s.egresses[r.UID] == nil {
				s.egresses[r.UID] = map[string]contract.Egress{}
			}
			if _, ok := s.egresses[r.UID][e.UID]; !ok {
				s.egresses[r.UID][e.UID] = e
				s.published[e.UID] = published.Generation
			}
		}
	}
	// The published resources are the baseline that decides whether the next publication
	// changes anything (they were written sorted, as contractLocked builds them).
	s.lastBody, _ = json.Marshal(published.Resources)
	return nil
}

// readPublished reads the contract currently published; nil when there is none. A contract that
// cannot be assembled is an error: starting from nothing would withdraw every route.
func (s *Store) readPublished(ctx context.Context) (*contract.Contract, error) {
	api := s.client.CoreV1().ConfigMaps(s.namespace)
	cm, err := api.Get(ctx, contract.ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the published contract index: %w", err)
	}
	var idx contract.Index
	if err := json.Unmarshal([]byte(cm.Data[contract.IndexKey]), &idx); err != nil {
		return nil, fmt.Errorf("decoding the published contract index: %w", err)
	}
	list, err := api.List(ctx, metav1.ListOptions{LabelSelector: contract.ConfigMapLabel + "=true"})
	if err != nil {
		return nil, fmt.Errorf("listing the published contract shards: %w", err)
	}
	var shards []contract.Shard
	for _, item := range list.Items {
		n, ok := shardNumber(item.Name)
		if !ok {
			continue
		}
		gen, err := strconv.ParseUint(item.Data[contract.ShardGenerationKey], 10, 64)
		if err != nil {
			continue
		}
		shards = append(shards, contract.Shard{Number: n, Generation: gen, Data: item.BinaryData[contract.ShardKey]})
	}
	c, err := contract.Assemble(idx, shards)
	if err != nil {
		return nil, fmt.Errorf("reading the published contract: %w", err)
	}
	return c, nil
}

// write publishes c: the shards first, then the index, then removes shards the index no longer
// names. A reader therefore never sees an index whose shards are missing.
func (s *Store) write(ctx context.Context, c *contract.Contract) error {
	idx, shards, err := contract.Split(c, MaxShardBytes)
	if err != nil {
		return fmt.Errorf("splitting contract: %w", err)
	}
	cms, err := contract.ConfigMaps(s.namespace, idx, shards)
	if err != nil {
		return err
	}
	api := s.client.CoreV1().ConfigMaps(s.namespace)
	for _, want := range cms {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				_, err = api.Create(ctx, want, metav1.CreateOptions{})
				return err
			}
			if err != nil {
				return err
			}
			cur = cur.DeepCopy()
			cur.Labels, cur.Data, cur.BinaryData = want.Labels, want.Data, want.BinaryData
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("writing ConfigMap %s/%s: %w", s.namespace, want.Name, err)
		}
	}
	existing, err := api.List(ctx, metav1.ListOptions{LabelSelector: contract.ConfigMapLabel + "=true"})
	if err != nil {
		return fmt.Errorf("listing contract ConfigMaps: %w", err)
	}
	for _, cm := range existing.Items {
		n, ok := shardNumber(cm.Name)
		if ok && n >= idx.Shards {
			if err := api.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting stale shard %s: %w", cm.Name, err)
			}
		}
	}
	return nil
}

func shardNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, contract.ConfigMapName+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
