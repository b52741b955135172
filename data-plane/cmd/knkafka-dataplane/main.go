// Command knkafka-dataplane runs the data plane: the ingress, the dispatcher, or both, following
// a contract file or the contract ConfigMaps, with the Kafka credentials of the Secrets the
// contract references (watched through the Kubernetes API: in-cluster, or --kubeconfig).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"knkafka.dev/data-plane/pkg/dataplane"
)

func main() {
	var cfg dataplane.Config
	role := flag.String("role", "all", "ingress, dispatcher or all")
	servers := flag.String("bootstrap-servers", "", "override every resource's Kafka bootstrap servers (comma-separated)")
	flag.StringVar(&cfg.IngressAddr, "ingress-addr", ":8080", "ingress listen address")
	flag.StringVar(&cfg.AdminAddr, "admin-addr", ":9090", "status, metrics and health listen address")
	flag.StringVar(&cfg.ContractFile, "contract", "", "follow this contract file instead of the Kubernetes ConfigMaps")
	flag.StringVar(&cfg.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig for the contract ConfigMaps and the Kafka auth Secrets (empty: in-cluster; with --contract, no Secrets are read without it)")
	flag.StringVar(&cfg.Namespace, "namespace", envOr("SYSTEM_NAMESPACE", "knative-eventing"), "namespace of the contract ConfigMaps")
	flag.DurationVar(&cfg.IngressLinger, "ingress-linger", envDuration("KNKAFKA_INGRESS_LINGER"),
		"how long the ingress's producers wait for more records before a produce request (0: none; env KNKAFKA_INGRESS_LINGER)")
	flag.IntVar(&cfg.MaxInFlight, "max-in-flight", 0, "default in-flight deliveries per unordered egress (0: built-in default)")
	budgetMiB := flag.Int64("memory-budget-mib", envInt("KNKAFKA_MEMORY_BUDGET_MIB"),
		"MiB of fetched, unfinished records the dispatcher holds across all egresses (0: a quarter of GOMEMLIMIT, at most 256; env KNKAFKA_MEMORY_BUDGET_MIB)")
	flag.IntVar(&cfg.MaxDeliveries, "max-deliveries", int(envInt("KNKAFKA_MAX_DELIVERIES")),
		"deliveries in flight across all Triggers, Subscriptions and KafkaSources, shared equally among those delivering (0: 1,000; env KNKAFKA_MAX_DELIVERIES)")
	flag.IntVar(&cfg.MaxCommitRate, "max-commit-rate", int(envInt("KNKAFKA_MAX_COMMIT_RATE")),
		"periodic offset commits a second across all Triggers, Subscriptions and KafkaSources; beyond it they take turns (0: 200; negative: no bound; env KNKAFKA_MAX_COMMIT_RATE)")
	flag.BoolVar(&cfg.SeparateReads, "separate-reads", os.Getenv("KNKAFKA_SEPARATE_READS") == "true",
		"give every Trigger and Subscription a Kafka consumer of its own instead of one shared reader per topic (env KNKAFKA_SEPARATE_READS=true)")
	flag.DurationVar(&cfg.SessionTimeout, "session-timeout", 0, "dispatcher consumer group session timeout (0: 45s); a replica killed without leaving holds its partitions this long")
	profiling := flag.Bool("pprof", false, "serve Go's profiles under /debug/pprof/ on the admin address")
	flag.Parse()
	if *profiling {
		cfg.AdminHandlers = map[string]http.Handler{
			"/debug/pprof/":        http.HandlerFunc(pprof.Index),
			"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
			"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
		}
	}
	cfg.MemoryBudget = *budgetMiB << 20
	cfg.Ingress = *role == "all" || *role == "ingress"
	cfg.Dispatcher = *role == "all" || *role == "dispatcher"
	if *servers != "" {
		cfg.BootstrapServers = strings.Split(*servers, ",")
	}
	logger, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.Logger = logger
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = dataplane.Run(ctx, cfg)
	stop()
	if err != nil {
		logger.Error("data plane stopped", zap.Error(err))
	}
	_ = logger.Sync()
	if err != nil {
		os.Exit(1)
	}
}

// envInt is the integer in the environment variable key, 0 when it is unset; the process exits
// when it is set to something else.
func envInt(key string) int64 {
	v := os.Getenv(key)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", key, err)
		os.Exit(2)
	}
	return n
}

// envDuration is the duration in the environment variable key, 0 when it is unset; the process
// exits when it is set to something else.
func envDuration(key string) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", key, err)
		os.Exit(2)
	}
	return d
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
