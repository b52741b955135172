// Package nametemplates gives the reconcilers the name templates of the config-kafka-features
// ConfigMap: Get reads and parses it from a ConfigMap lister, Watch requeues a controller's objects
// when it changes, and SystemNamespace says where it lives. The templates themselves, and the
// rule that a recorded name wins over them, are contractbuild's (NameTemplates).
package nametemplates

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/system"

	"knkafka.dev/control-plane/pkg/contractbuild"
)

// ReasonInvalid is the condition and event reason of an object whose name template does not
// parse, fails to execute or yields a name Kafka refuses.
const ReasonInvalid = "NameTemplateInvalid"

// SystemNamespace is the namespace of config-kafka-features: the SYSTEM_NAMESPACE environment
// variable (as knative.dev/pkg/system reads it), knative-eventing when unset.
func SystemNamespace() string {
	if ns := os.Getenv(system.NamespaceEnvKey); ns != "" {
		return ns
	}
	return contractbuild.FeaturesConfigMapNS
}

// Get returns the name templates of config-kafka-features in namespace; the defaults when the
// ConfigMap does not exist, an error naming the ConfigMap when a template does not parse.
func Get(configMaps corelisters.ConfigMapLister, namespace string) (contractbuild.NameTemplates, error) {
	cm, err := configMaps.ConfigMaps(namespace).Get(contractbuild.FeaturesConfigMapName)
	if apierrors.IsNotFound(err) {
		return contractbuild.DefaultNameTemplates(), nil
	} else if err != nil {
		return contractbuild.NameTemplates{}, fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, contractbuild.FeaturesConfigMapName, err)
	}
	names, err := contractbuild.ParseNameTemplates(cm.Data)
	if err != nil {
		return contractbuild.NameTemplates{}, fmt.Errorf("ConfigMap %s/%s: %w", namespace, contractbuild.FeaturesConfigMapName, err)
	}
	return names, nil
}

// Watch calls resync whenever config-kafka-features in namespace is added, changed or deleted.
// Objects that already recorded their names keep them; the resync serves those that could not
// be named before (a broken template that was fixed).
func Watch(ctx context.Context, configMaps cache.SharedInformer, namespace string, resync func()) {
	h := cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterWithNameAndNamespace(namespace, contractbuild.FeaturesConfigMapName),
		Handler:    controller.HandleAll(func(any) { resync() }),
	}
	if _, err := configMaps.AddEventHandler(h); err != nil {
		logging.FromContext(ctx).Desugar().Fatal("adding an informer event handler", zap.Error(err))
	}
}
