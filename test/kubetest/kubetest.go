// Package kubetest gives a test package one real Kubernetes control plane: etcd and kube-apiserver
// on 127.0.0.1, started with controller-runtime's envtest from the binaries hack/kube.sh builds, with
// the Knative eventing core CRDs and every CRD under the repository's config/ installed. There is no
// kubelet, no controller-manager and no Knative webhook, so nothing defaults or validates Knative
// objects server-side (beyond their CRD schemas) and nothing reconciles them unless the test runs a
// controller itself.
//
// A test package opts in with a TestMain, and each test asks for the shared [Cluster]:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := kubetest.Env(t) // starts the control plane on first use (about 5 s)
//		c.Kube.CoreV1()...; c.Eventing.EventingV1()...; c.Kubeconfig // for a controller process
//	}
//
// [Apply] server-side applies YAML manifests, optionally as a dry run.
//
// Tests fail — they never skip — when the binaries are missing, and say how to build them: `make
// test` does, or `eval "$(hack/kube.sh build)"; export KUBEBUILDER_ASSETS`.
package kubetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	eventingclient "knative.dev/eventing/pkg/client/clientset/versioned"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// EnvAssets is the environment variable naming the directory that holds the etcd and kube-apiserver
// binaries (envtest's own convention; hack/kube.sh build prints it).
const EnvAssets = "KUBEBUILDER_ASSETS"

// buildHint tells a developer how to get the binaries.
const buildHint = "run `make test` or `eval \"$(hack/kube.sh build)\"; export " + EnvAssets + "`"

// Cluster is a running control plane and clients for it. Its clients are safe for concurrent use
// and shared by every test in the package; tests isolate themselves with namespaces of their own.
type Cluster struct {
	// Kube is a client for the built-in Kubernetes API.
	Kube kubernetes.Interface
	// Eventing is Knative eventing's typed client (eventing, messaging, flows, sources, sinks).
	Eventing eventingclient.Interface
	// Dynamic is a dynamic client, for resources without a typed client.
	Dynamic dynamic.Interface
	// Kubeconfig is the path of a kubeconfig file with admin (system:masters) credentials, for
	// processes the test starts, such as our controller.
	Kubeconfig string
	// CRDs names the CustomResourceDefinitions installed at start-up.
	CRDs []string
	// StartupTime is how long starting the control plane and installing the CRDs took.
	StartupTime time.Duration

	config  *rest.Config
	env     *envtest.Environment
	dir     string
	crdWait time.Duration // part of StartupTime spent waiting out the 2 s create delay
}

// Config returns a copy of the admin REST config, for building other clients.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

var (
	mainCalled bool // set by Main before any test runs, read by tests: no lock needed

	startOnce sync.Once
	shared    *Cluster
	startErr  error

	stopOnce sync.Once
	stopErr  error
)

// Main runs the package's tests and then stops the control plane if a test started it. Call it from
// TestMain; it does not return. Main also stops the control plane when the test binary is
// interrupted or is about to reach its -test.timeout, because envtest starts etcd and kube-apiserver
// in process groups of their own, so they would otherwise outlive the binary.
func Main(m *testing.M) {
	flag.Parse() // so that -test.timeout can be read before m.Run
	mainCalled = true
	// envtest logs through controller-runtime's logger; without one set, controller-runtime prints a
	// warning with a stack trace once the binary has run for 30 s.
	ctrllog.SetLogger(logr.Discard())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "kubetest: %v: stopping the control plane\n", sig)
		_ = stop()
		os.Exit(1)
	}()
	if d := testTimeout(); d > 10*time.Second {
		// The testing package panics at the timeout without running any deferred code.
		time.AfterFunc(d-5*time.Second, func() {
			fmt.Fprintln(os.Stderr, "kubetest: the test binary is about to reach -test.timeout: stopping the control plane")
			_ = stop()
		})
	}

	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: stopping the control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return 0
	}
	d, _ := g.Get().(time.Duration)
	return d
}

// Env returns the package's control plane, starting it on first use. The first call takes about 5 s:
// it starts etcd and kube-apiserver, installs the CRDs and waits until creating custom resources is
// fast (kube-apiserver delays every create for 2 s after a CRD becomes Established). Env fails the
// test when the control plane cannot start, and when the package has no TestMain calling [Main].
func Env(t testing.TB) *Cluster {
	t.Helper()
	if !mainCalled {
		t.Fatal("kubetest.Env needs the package's TestMain to call kubetest.Main(m), which stops the control plane when the tests end")
	}
	startOnce.Do(func() {
		shared, startErr = start(context.Background())
		if startErr == nil {
			t.Logf("kubetest: control plane with %d CRDs ready in %s, %s of it waiting for the CRDs to settle (kubeconfig %s)",
				len(shared.CRDs), shared.StartupTime.Round(time.Millisecond), shared.crdWait.Round(time.Millisecond), shared.Kubeconfig)
		}
	})
	if startErr != nil {
		t.Fatalf("kubetest: %v", startErr)
	}
	return shared
}

func start(ctx context.Context) (*Cluster, error) {
	began := time.Now()
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	crdPaths, err := crdPaths(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        crdPaths,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	c := &Cluster{env: env, dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	if err := c.setUp(ctx); err != nil {
		if stopErr := c.stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	c.StartupTime = time.Since(began)
	return c, nil
}

func (c *Cluster) setUp(ctx context.Context) error {
	cfg, err := c.env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver from %s (KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true shows their logs): %w",
			c.env.BinaryAssetsDirectory, err)
	}
	c.config = cfg
	for _, crd := range c.env.CRDs {
		c.CRDs = append(c.CRDs, crd.Name)
	}
	if err := os.WriteFile(c.Kubeconfig, c.env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the Kubernetes client: %w", err)
	}
	if c.Eventing, err = eventingclient.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the Knative eventing client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the dynamic client: %w", err)
	}
	c.crdWait, err = waitCRDsSettled(ctx, cfg, c.CRDs)
	return err
}

// stop stops the shared control plane, once; it is a no-op when none was started.
func stop() error {
	stopOnce.Do(func() {
		// startOnce.Do waits for a start in progress, and stops a later one from happening.
		startOnce.Do(func() { startErr = errors.New("the control plane was stopped before it was started") })
		if shared != nil {
			stopErr = shared.stop()
		}
	})
	return stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping etcd and kube-apiserver: %w", err))
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", c.dir, err))
	}
	return errors.Join(errs...)
}

// assetsDir returns the directory named by KUBEBUILDER_ASSETS after checking that it holds both
// binaries.
func assetsDir() (string, error) {
	dir := os.Getenv(EnvAssets)
	if dir == "" {
		return "", fmt.Errorf("these tests need a real etcd and kube-apiserver and %s is not set: %s", EnvAssets, buildHint)
	}
	return dir, checkAssets(dir)
}

func checkAssets(dir string) error {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%s=%s has no usable %s (%w): %s", EnvAssets, dir, name, err, buildHint)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s=%s: %s is not an executable file: %s", EnvAssets, dir, name, buildHint)
		}
	}
	return nil
}
