package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	messagingconfig "knative.dev/eventing/pkg/apis/messaging/config"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/reconciler/channel"
	"knative.dev/eventing/pkg/reconciler/subscription"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	kubefilteredfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	cminformer "knative.dev/pkg/configmap/informer"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"

	"knkafka.dev/test/kafkatest"
	"knkafka.dev/test/kubetest"
)

// knativeCore is Knative eventing's own Channel and Subscription reconcilers, from the
// knative.dev/eventing module in go.mod, running in the test process against the suite's
// apiserver as Knative's controller runs them: injection informers, a ConfigMap watcher on the
// system namespace feeding their feature store, controller.StartAll.
type knativeCore struct {
	logPath string
	logger  *zap.SugaredLogger
	// cancel stops the reconcilers, their informers and their ConfigMap watcher.
	cancel context.CancelFunc
	// injected is the context the reconcilers were built from: injection's clients and started
	// informers, the logger. Knative parts a scenario adds (startMTChannelBroker) are built from a
	// child of it, sharing its informers as Knative's own binaries share one injection context.
	injected context.Context
}

// eventingDir is the knative.dev/eventing module's directory, for the manifests it ships.
func eventingDir() (string, error) {
	root, err := kafkatest.RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "knative.dev/eventing")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating knative.dev/eventing: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// useKnativeCore returns the running Knative core reconcilers, starting them on first use.
func useKnativeCore(t *testing.T, s *suite) *knativeCore {
	t.Helper()
	s.knativeOnce.Do(func() {
		began := time.Now()
		s.knative, s.knativeErr = startKnativeCore(s)
		if s.knativeErr == nil {
			t.Logf("e2e: Knative core Channel and Subscription reconcilers started in %s", time.Since(began).Round(time.Millisecond))
		}
	})
	if s.knativeErr != nil {
		t.Fatalf("e2e: starting Knative core's reconcilers: %v", s.knativeErr)
	}
	return s.knative
}

func startKnativeCore(s *suite) (*knativeCore, error) {
	dir, err := eventingDir()
	if err != nil {
		return nil, err
	}
	cfg := s.cluster.Config()
	// Knative's own config-features (its feature store needs it), and the InMemoryChannel CRD, so
	// a Channel defaulted to InMemoryChannel gets its backing object (nothing reconciles it here).
	for _, manifest := range []string{"config/core/configmaps/features.yaml", "config/channels/in-memory-channel/resources/in-memory-channel.yaml"} {
		objs, err := kubetest.ReadManifests(filepath.Join(dir, manifest))
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = kubetest.ApplyManifests(ctx, cfg, objs, false)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("applying knative.dev/eventing's %s: %w", manifest, err)
		}
	}
	if err := waitEstablished(cfg, "inmemorychannels.messaging.knative.dev"); err != nil {
		return nil, err
	}

	k := &knativeCore{logPath: filepath.Join(s.logs, "knative-core.log")}
	zcfg := zap.NewDevelopmentConfig()
	zcfg.OutputPaths, zcfg.ErrorOutputPaths = []string{k.logPath}, []string{k.logPath}
	logger, err := zcfg.Build()
	if err != nil {
		return nil, err
	}
	k.logger = logger.Sugar().Named("knative-core")

	// As knative.dev/eventing's cmd/controller: the OIDC ServiceAccount informer is filtered. The
	// trust-bundle selector is the broker ingress and filter's (cmd/broker/*): their packages are
	// linked into this binary, so injection sets up their filtered ConfigMap informer too.
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	ctx = kubefilteredfactory.WithSelectors(ctx, auth.OIDCLabelSelector, eventingtls.TrustBundleLabelSelector)
	ctx = logging.WithLogger(ctx, k.logger)
	ctx, startInformers := injection.EnableInjectionOrDie(ctx, cfg)
	cmw := cminformer.NewInformedWatcher(kubeclient.Get(ctx), systemNamespace)
	impls := []*controller.Impl{channel.NewController(ctx, cmw), subscription.NewController(ctx, cmw)}
	if err := cmw.Start(ctx.Done()); err != nil {
		cancel()
		return nil, fmt.Errorf("starting the ConfigMap watcher: %w", err)
	}
	startInformers()
	k.injected = ctx
	go func() {
		if err := controller.StartAll(ctx, impls...); err != nil {
			k.logger.Errorw("Knative core controllers stopped", zap.Error(err))
		}
	}()
	return k, nil
}

// waitEstablished waits until the CRD name is Established, and 2 s more: kube-apiserver delays
// the first creates of a just-established CRD's objects by 2 s.
func waitEstablished(cfg *rest.Config, name string) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", name, err)
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				time.Sleep(time.Until(c.LastTransitionTime.Add(2100 * time.Millisecond)))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s is not Established: %w", name, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// channelDefaults loads the default-ch-webhook ConfigMap as Knative's eventing webhook does —
// its config Store watching the system namespace — and returns a context carrying it, for
// messagingv1.Channel.SetDefaults. It waits until the loaded config passes check.
func channelDefaults(t *testing.T, s *suite, k *knativeCore, check func(*messagingconfig.ChannelDefaults) error) context.Context {
	t.Helper()
	ctx := ctxFor(t, 5*time.Minute)
	store := messagingconfig.NewStore(k.logger.Named("channel-config-store"))
	cmw := cminformer.NewInformedWatcher(s.cluster.Kube, systemNamespace)
	store.WatchConfigs(cmw)
	if err := cmw.Start(ctx.Done()); err != nil {
		t.Fatalf("watching %s: %v", messagingconfig.ChannelDefaultsConfigName, err)
	}
	eventually(t, 10*time.Second, "the channel defaults loaded", func() (bool, string) {
		err := check(store.Load().ChannelDefaults)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return store.ToContext(ctx)
}
