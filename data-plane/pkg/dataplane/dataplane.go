// Package dataplane composes the data plane: a contract source (a file or the Kubernetes
// ConfigMaps) feeding the ingress and the dispatcher, and the admin server that reports what is
// actually served (Status at contract.StatusPath), Prometheus metrics and health. Run is what the
// data-plane binary and the all-in-one mode call.
package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/contractsource"
	"knkafka.dev/data-plane/pkg/delivery"
	"knkafka.dev/data-plane/pkg/dispatcher"
	"knkafka.dev/data-plane/pkg/ingress"
)

// Config says which roles to run and where the contract comes from.
type Config struct {
	// Ingress and Dispatcher select the roles; at least one must be set.
	Ingress, Dispatcher bool
	// IngressAddr is the ingress listen address (":8080" when empty).
	IngressAddr string
	// AdminAddr serves status, metrics and health (":9090" when empty).
	AdminAddr string
	// ContractFile, when set, is followed instead of the Kubernetes ConfigMaps.
	ContractFile string
	// Kubeconfig is the kubeconfig for the ConfigMap source; empty means in-cluster.
	Kubeconfig string
	// Namespace holds the contract ConfigMaps ("knative-eventing" when empty).
	Namespace string
	// BootstrapServers, when set, replace every resource's bootstrap servers (local runs and tests).
	BootstrapServers []string
	// MaxInFlight is the dispatcher's default in-flight limit per unordered egress (0: its default).
	MaxInFlight int
	// Logger is required.
	Logger *zap.Logger
}

// Run serves until ctx ends, then stops gracefully: the ingress stops accepting, in-flight
// deliveries finish or are abandoned, and completed offsets are committed.
func Run(ctx context.Context, cfg Config) error {
	if !cfg.Ingress && !cfg.Dispatcher {
		return errors.New("no role selected: enable the ingress, the dispatcher or both")
	}
	source, err := newSource(cfg)
	if err != nil {
		return err
	}
	dp := newServer(cfg)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	serve := func(name, addr string, h http.Handler) (*http.Server, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s listening on %s: %w", name, addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg.Logger.Info("listening", zap.String("server", name), zap.String("addr", ln.Addr().String()))
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s server: %w", name, err)
			}
		}()
		return srv, nil
	}
	var servers []*http.Server
	admin, err := serve("admin", orDefault(cfg.AdminAddr, ":9090"), dp.adminHandler())
	if err != nil {
		return err
	}
	servers = append(servers, admin)
	if dp.ingress != nil {
		in, err := serve("ingress", orDefault(cfg.IngressAddr, ":8080"), dp.ingress)
		if err != nil {
			_ = admin.Close()
			return err
		}
		servers = append(servers, in)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := source.Run(ctx, dp.apply); err != nil {
			errs <- fmt.Errorf("contract source: %w", err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
		cfg.Logger.Error("stopping", zap.Error(runErr))
	}
	cancel()
	stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	for _, s := range servers {
		_ = s.Shutdown(stopCtx)
	}
	if err := dp.close(stopCtx); err != nil && runErr == nil {
		runErr = err
	}
	wg.Wait()
	return runErr
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

type contractSource interface {
	Run(ctx context.Context, apply contractsource.ApplyFunc) error
}

func newSource(cfg Config) (contractSource, error) {
	if cfg.ContractFile != "" {
		return contractsource.NewFile(cfg.ContractFile, 0, cfg.Logger), nil
	}
	rest, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return contractsource.NewConfigMaps(client, orDefault(cfg.Namespace, "knative-eventing"), "", cfg.Logger), nil
}

// server holds the running roles and what they serve.
type server struct {
	cfg        Config
	registry   *prometheus.Registry
	ingress    *ingress.Ingress
	dispatcher *dispatcher.Dispatcher
	// generation is the generation of the last contract both roles applied; applied says one was.
	generation atomic.Uint64
	applied    atomic.Bool
	mu         sync.Mutex // serializes apply
}

func newServer(cfg Config) *server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &server{cfg: cfg, registry: reg}
	if cfg.Ingress {
		s.ingress = ingress.New(cfg.Logger.Named("ingress"), ingress.WithRegistry(reg))
	}
	if cfg.Dispatcher {
		sender := delivery.NewSender(cfg.Logger.Named("delivery"), delivery.WithRegistry(reg))
		opts := []dispatcher.Option{dispatcher.WithRegistry(reg)}
		if cfg.MaxInFlight > 0 {
			opts = append(opts, dispatcher.MaxInFlight(cfg.MaxInFlight))
		}
		s.dispatcher = dispatcher.New(cfg.Logger.Named("dispatcher"), sender, opts...)
	}
	return s
}

func (s *server) apply(ctx context.Context, c *contract.Contract) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cfg.BootstrapServers) > 0 {
		for i := range c.Resources {
			c.Resources[i].BootstrapServers = s.cfg.BootstrapServers
		}
	}
	var errs []error
	if s.ingress != nil {
		if err := s.ingress.Apply(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("ingress: %w", err))
		}
	}
	if s.dispatcher != nil {
		if err := s.dispatcher.Apply(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("dispatcher: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.generation.Store(c.Generation)
	s.applied.Store(true)
	s.cfg.Logger.Info("contract applied", zap.Uint64("generation", c.Generation), zap.Int("resources", len(c.Resources)))
	return nil
}

func (s *server) close(ctx context.Context) error {
	var errs []error
	if s.ingress != nil {
		errs = append(errs, s.ingress.Close(ctx))
	}
	if s.dispatcher != nil {
		errs = append(errs, s.dispatcher.Close(ctx))
	}
	return errors.Join(errs...)
}

// Status reports the applied generation and what each role serves.
func (s *server) Status() contract.Status {
	// A role this instance does not run stays nil, so readers know it has no say on it.
	st := contract.Status{Generation: s.generation.Load()}
	if s.ingress != nil {
		st.Ingresses = s.ingress.Status()
	}
	if s.dispatcher != nil {
		st.Egresses = s.dispatcher.Status()
	}
	return st
}

func (s *server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+contract.StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.applied.Load() {
			http.Error(w, "no contract applied yet", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}
