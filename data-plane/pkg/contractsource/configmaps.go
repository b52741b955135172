package contractsource

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"knkafka.dev/control-plane/pkg/contract"
)

// ConfigMaps follows the contract ConfigMaps (index plus shards, see contract.Split) in one
// namespace through a Kubernetes watch.
type ConfigMaps struct {
	client    kubernetes.Interface
	namespace string
	name      string
	logger    *zap.Logger
}

// NewConfigMaps follows the contract published as ConfigMaps named name (contract.ConfigMapName
// when empty) in namespace.
func NewConfigMaps(client kubernetes.Interface, namespace, name string, logger *zap.Logger) *ConfigMaps {
	if name == "" {
		name = contract.ConfigMapName
	}
	return &ConfigMaps{client: client, namespace: namespace, name: name, logger: logger}
}

// Run watches the ConfigMaps and applies every complete new generation until ctx ends.
func (s *ConfigMaps) Run(ctx context.Context, apply ApplyFunc) error {
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 10*time.Minute,
		informers.WithNamespace(s.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = contract.ConfigMapLabel + "=true" }))
	informer := factory.Core().V1().ConfigMaps()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, n any) { poke(n) },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("watching contract ConfigMaps: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		return ctx.Err()
	}
	lister := informer.Lister().ConfigMaps(s.namespace)
	var applied uint64
	var hasApplied bool
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		cms, err := lister.List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing contract ConfigMaps: %w", err)
		}
		c, err := s.assemble(cms)
		switch {
		case err != nil:
			s.logger.Info("contract not complete yet; keeping the last one", zap.Error(err))
		case c == nil:
		case hasApplied && c.Generation == applied:
		default:
			if err := apply(ctx, c); err != nil {
				s.logger.Error("applying contract", zap.Uint64("generation", c.Generation), zap.Error(err))
				retry.Reset(time.Second)
				break
			}
			applied, hasApplied = c.Generation, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry.C:
		}
	}
}

// assemble builds the contract the index names from the shards present; nil when there is no index.
func (s *ConfigMaps) assemble(cms []*corev1.ConfigMap) (*contract.Contract, error) {
	var idx *contract.Index
	var shards []contract.Shard
	prefix := s.name + "-"
	for _, cm := range cms {
		switch {
		case cm.Name == s.name:
			var i contract.Index
			if err := json.Unmarshal([]byte(cm.Data[contract.IndexKey]), &i); err != nil {
				return nil, fmt.Errorf("decoding contract index %s: %w", cm.Name, err)
			}
			idx = &i
		case strings.HasPrefix(cm.Name, prefix):
			n, err := strconv.Atoi(strings.TrimPrefix(cm.Name, prefix))
			if err != nil {
				continue
			}
			gen, err := strconv.ParseUint(cm.Data[contract.ShardGenerationKey], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("shard %s has no valid generation: %w", cm.Name, err)
			}
			shards = append(shards, contract.Shard{Number: n, Generation: gen, Data: cm.BinaryData[contract.ShardKey]})
		}
	}
	if idx == nil {
		return nil, nil
	}
	return contract.Assemble(*idx, shards)
}
