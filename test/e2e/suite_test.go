package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/system"

	kafkaclient "knkafka.dev/control-plane/pkg/client/clientset/versioned"
	"knkafka.dev/test/kafkatest"
	"knkafka.dev/test/kubetest"
)

// systemNamespace holds our ConfigMaps, the contract and Knative's config, as in a cluster.
const systemNamespace = "knative-eventing"

func TestMain(m *testing.M) {
	// Knative's code in this process (the core reconcilers, config watchers) reads it.
	if err := os.Setenv(system.NamespaceEnvKey, systemNamespace); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := listenInProcessClusterDNS(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// TestE2E builds the binaries, and stops what it starts before kubetest.Main stops the control
	// plane and exits. (Nothing runs after kubetest.Main's m.Run, so TestE2E, not TestMain, owns
	// the binaries' temporary directory and removes it.)
	kubetest.Main(m)
}

// build builds the controller and the data plane with -race into a new temporary directory.
func build() (string, error) {
	root, err := kafkatest.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "knkafka-e2e-bin-")
	if err != nil {
		return "", err
	}
	if err := buildBinaries(root, dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// httpClient makes every request of the tests to the data plane.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// suite is what the scenarios share: the control plane, Kafka, our controller and data plane
// running against them, and — started on first use — Knative core's reconcilers.
type suite struct {
	cluster *kubetest.Cluster
	// kafkaClient is the typed client of our APIs (KafkaChannel, KafkaSource, KafkaSink).
	kafkaClient kafkaclient.Interface
	servers     []string
	kafka       *kgo.Client
	admin       *kadm.Client
	// ingress is the data plane's ingress host:port; status its admin base URL.
	ingress, status string
	// dns takes the data plane's requests for cluster hostnames to the ingress and test servers.
	dns        *clusterDNS
	dataPlane  *process
	controller *process
	// bin holds the binaries; logs the processes' logs, removed when the suite passes.
	bin, logs string
	// tailsShown says a failed scenario already showed the logs' tails.
	tailsShown bool

	knativeOnce sync.Once
	knative     *knativeCore
	knativeErr  error
}

// TestE2E runs the scenarios against one controller and one data plane, which it starts first and
// stops — gracefully, checking that they exit cleanly (a -race binary exits non-zero after a data
// race) — before kubetest.Main stops the control plane. Run one scenario with
// -run TestE2E/<name>.
func TestE2E(t *testing.T) {
	s := startSuite(t)
	for _, scenario := range []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"BrokerFlow", testBrokerFlow},
		{"ChannelDefaulting", testChannelDefaulting},
		{"SubscriptionOnKafkaChannel", testSubscriptionOnKafkaChannel},
		{"DeliveryOrder", testDeliveryOrder},
		{"DeletionRemovesTopicsRoutesAndGroups", testDeletion},
		{"MigrationFromIncumbent", testMigration},
		{"KnChannelAndSubscription", testKnChannelAndSubscription},
		{"KnSourceListTypes", testKnSourceListTypes},
		{"KafkaSourceToKnChannel", testKafkaSourceToKnChannel},
		{"KafkaSourceToBroker", testKafkaSourceToBroker},
		{"MTChannelBrokerOnKafkaChannel", testMTChannelBrokerOnKafkaChannel},
		{"AuthSecretAfterBroker", testAuthSecretAfterBroker},
		{"SecuredKafka", testSecuredKafka},
		{"KafkaSink", testKafkaSink},
		{"SecuredKafkaSink", testSecuredKafkaSink},
		{"KafkaChannelV1", testKafkaChannelV1},
		{"TriggerCompat", testTriggerCompat},
	} {
		t.Run(scenario.name, func(t *testing.T) {
			s.watch(t)
			scenario.run(t, s)
		})
	}
}

// watch makes t report the processes' log tails when it fails, and fail when a process died or
// reported a data race while it ran.
func (s *suite) watch(t *testing.T) {
	t.Cleanup(func() {
		s.dataPlane.check(t)
		s.controller.check(t)
		if t.Failed() {
			t.Logf("logs:%s", s.logTails(12000))
			s.tailsShown = true
		}
	})
}

// startSuite starts the controller and the data plane for t, and stops them when t ends.
func startSuite(t *testing.T) *suite {
	t.Helper()
	cluster := kubetest.Env(t)
	servers := kafkatest.Bootstrap(t)
	began := time.Now()
	s, err := start(t, cluster, servers)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Logf("e2e: controller and data plane built and started in %s (logs in %s)", time.Since(began).Round(time.Millisecond), s.logs)
	return s
}

// stop stops Knative core's reconcilers, then the controller, then the data plane, each with
// SIGTERM, and fails t unless each exits 0 within a minute. Nothing may keep watching the
// apiserver when kubetest stops it: kube-apiserver waits for open watches when it shuts down.
func (s *suite) stop(t *testing.T) {
	if s.knative != nil {
		s.knative.cancel()
	}
	for _, p := range []*process{s.controller, s.dataPlane} {
		if p == nil {
			continue
		}
		if err := p.stop(time.Minute); err != nil {
			t.Errorf("%v", err)
		}
	}
	if s.dns != nil {
		_ = s.dns.close()
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.dataPlane != nil && s.controller != nil && t.Failed() && !s.tailsShown {
		t.Logf("logs:%s", s.logTails(12000))
	}
	if err := os.RemoveAll(s.bin); err != nil {
		t.Errorf("removing the binaries: %v", err)
	}
	if t.Failed() {
		t.Logf("the logs stay in %s", s.logs)
	} else if err := os.RemoveAll(s.logs); err != nil {
		t.Errorf("removing the logs: %v", err)
	}
}

func start(t *testing.T, cluster *kubetest.Cluster, servers []string) (*suite, error) {
	s := &suite{cluster: cluster, servers: servers}
	t.Cleanup(func() { s.stop(t) })
	var err error
	began := time.Now()
	if s.bin, err = build(); err != nil {
		return nil, err
	}
	t.Logf("e2e: built the controller and the data plane with -race in %s", time.Since(began).Round(time.Millisecond))
	if s.logs, err = os.MkdirTemp("", "knkafka-e2e-logs-"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.kafkaClient, err = kafkaclient.NewForConfig(cluster.Config()); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		return nil, err
	}
	s.kafka, s.admin = cl, kadm.NewClient(cl)
	if err := ensureNamespace(ctx, cluster, systemNamespace); err != nil {
		return nil, err
	}
	// The Kafka cluster of every Broker (spec.config names it) and of every KafkaChannel.
	if err := applyConfigMap(ctx, cluster, systemNamespace, "kafka-broker-config", map[string]string{
		"bootstrap.servers":                 strings.Join(servers, ","),
		"default.topic.partitions":          "10",
		"default.topic.replication.factor":  "1",
		"default.topic.config.retention.ms": "3600000",
	}); err != nil {
		return nil, err
	}
	if err := applyConfigMap(ctx, cluster, systemNamespace, "kafka-channel-config", map[string]string{
		"bootstrap.servers": strings.Join(servers, ","),
	}); err != nil {
		return nil, err
	}

	ingress, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.ingress, s.status = ingress, "http://"+admin
	if inProcessClusterDNS == nil {
		return nil, fmt.Errorf("the cluster DNS shim's listener is not open: TestMain opens it")
	}
	if s.dns, err = startClusterDNS(inProcessClusterDNS, ingress); err != nil {
		return nil, err
	}
	// Sinks that Knative resolves to cluster hostnames (Brokers, KafkaChannels, Services) are
	// reached through the cluster DNS shim; the tests' 127.0.0.1 subscribers are not proxied.
	s.dataPlane, err = startProcess("data-plane", s.logs, filepath.Join(s.bin, "knkafka-dataplane"), []string{"HTTP_PROXY=" + s.dns.url},
		"--role", "all", "--kubeconfig", cluster.Kubeconfig, "--namespace", systemNamespace,
		"--ingress-addr", ingress, "--admin-addr", admin)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(s.status+"/healthz", 30*time.Second, s.dataPlane); err != nil {
		return nil, err
	}

	profiling, err := freePort()
	if err != nil {
		return nil, err
	}
	s.controller, err = startProcess("controller", s.logs, filepath.Join(s.bin, "controller"), []string{
		"KUBECONFIG=" + cluster.Kubeconfig,
		system.NamespaceEnvKey + "=" + systemNamespace,
		"DATA_PLANE_STATUS_URLS=" + s.status,
		// sharedmain's profiling server; its probes server takes :8080 and cannot be moved.
		"PROFILING_PORT=" + profiling,
	}, "--kubeconfig", cluster.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// logTails is the end of every log of the suite, the in-process Knative reconcilers' included.
func (s *suite) logTails(n int) string {
	var b strings.Builder
	tails := []*process{s.controller, s.dataPlane}
	for _, p := range tails {
		fmt.Fprintf(&b, "\n===== %s: last %d bytes of %s =====\n%s", p.name, n, p.logPath, p.tail(n))
	}
	if s.knative != nil {
		fmt.Fprintf(&b, "\n===== Knative core reconcilers (in this process): last %d bytes of %s =====\n%s",
			n, s.knative.logPath, tailFile(s.knative.logPath, n))
	}
	return b.String()
}

func tailFile(path string, n int) string {
	p := &process{logPath: path}
	return p.tail(n)
}

// ensureNamespace creates a namespace unless it exists. Tests never delete namespaces: without
// kube-controller-manager one stays Terminating for good.
func ensureNamespace(ctx context.Context, c *kubetest.Cluster, name string) error {
	_, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// namespace creates a namespace for t.
func namespace(t *testing.T, s *suite, name string) string {
	t.Helper()
	if err := ensureNamespace(context.Background(), s.cluster, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// applyConfigMap creates or replaces a ConfigMap's data.
func applyConfigMap(ctx context.Context, c *kubetest.Cluster, ns, name string, data map[string]string) error {
	cms := c.Kube.CoreV1().ConfigMaps(ns)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var cur *corev1.ConfigMap
		if cur, err = cms.Get(ctx, name, metav1.GetOptions{}); err == nil {
			cur.Data = data
			_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("writing ConfigMap %s/%s: %w", ns, name, err)
	}
	return nil
}

// ctxFor is a context for t that ends after d or with t.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
