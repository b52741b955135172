// Package dataplane composes the data plane: a contract Source (a file, the Kubernetes ConfigMaps,
// or a caller's own) feeding the ingress and the dispatcher, the Secrets their Kafka clients'
// credentials come from (kafkaauth: a watch of exactly the Secrets the contract references, or a
// caller's own), and the admin server that reports what is actually served (Status at
// contract.StatusPath), Prometheus metrics and health. A change to a referenced Secret re-applies
// the last contract, so a rotated credential takes effect without a restart. Run is what the
// data-plane binary calls; the all-in-one mode builds a Server with New, feeds it contracts as the
// Source and reads its Status.
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
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
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
	// IngressLinger is how long the ingress's producers wait for more records before sending a
	// produce request (0: no wait, the ingress's default). See ingress.Linger for the trade.
	IngressLinger time.Duration
	// MaxInFlight is the dispatcher's default in-flight limit per unordered egress (0: its default).
	MaxInFlight int
	// MemoryBudget bounds the bytes of fetched records the dispatcher holds across all egresses
	// (0: a quarter of the Go memory limit, at most 256 MiB; see dispatcher.MemoryBudget).
	MemoryBudget int64
	// SeparateReads gives every Trigger and Subscription a consumer of its own, as Knative's Kafka
	// broker does, instead of one shared reader per topic (dispatcher.SharedReads).
	SeparateReads bool
	// MaxDeliveries bounds the dispatcher's deliveries in flight across all egresses (0: its
	// default, 1,000; see dispatcher.MaxDeliveries).
	MaxDeliveries int
	// MaxCommitRate bounds the dispatcher's periodic offset commits a second across all egresses
	// (0: its default, 200; negative: no bound; see dispatcher.MaxCommitRate).
	MaxCommitRate int
	// SessionTimeout is the dispatcher's consumer group session timeout (0: franz-go's 45s). A
	// replica that dies without leaving holds its partitions this long before the group moves them.
	SessionTimeout time.Duration
	// Source, when set, feeds the contracts instead of ContractFile or the ConfigMaps.
	Source Source
	// Secrets, when set, gives the Secrets the contract references (local mode, tests). When
	// nil, they are watched through the Kubernetes API — unless the contract comes from a file
	// and no Kubeconfig is given, or from Source: then a resource that references a Secret is
	// not served.
	Secrets kafkaauth.Source
	// AdminHandlers are extra routes of the admin server, keyed by http.ServeMux pattern
	// ("GET /resources"); none by default.
	AdminHandlers map[string]http.Handler
	// Logger is required.
	Logger *zap.Logger
}

// Source delivers contracts to a Server, in generation order, until ctx ends.
// contractsource.File and contractsource.ConfigMaps are Sources.
type Source interface {
	Run(ctx context.Context, apply contractsource.ApplyFunc) error
}

// Run serves until ctx ends, then stops gracefully: the ingress stops accepting, in-flight
// deliveries finish or are abandoned, and completed offsets are committed.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Server is a data plane: the roles Config selects, the Source feeding them and the admin server.
// It serves nothing until Run.
type Server struct {
	cfg        Config
	source     Source
	secrets    kafkaauth.Source
	registry   *prometheus.Registry
	ingress    *ingress.Ingress
	dispatcher *dispatcher.Dispatcher
	// generation is the generation of the last contract both roles applied; applied says one was.
	generation atomic.Uint64
	applied    atomic.Bool
	mu         sync.Mutex // serializes Apply
	// last is the last contract given to Apply, re-applied when a Secret changes; guarded by mu.
	last *contract.Contract
	// closeSecrets stops the Secret watches the Server started itself; nil when it started none.
	closeSecrets func()
	// resolve is the roles' Security for the contract being applied (kafkaauth.Cached, new for
	// each apply, so both roles share one parse of each Secret); guarded by mu, and only the
	// roles' Apply, which runs under mu, calls it.
	resolve kafkaauth.Func
}

// New builds the Server of cfg. Its Run must be called once: it is what releases the roles.
func New(cfg Config) (*Server, error) {
	if !cfg.Ingress && !cfg.Dispatcher {
		return nil, errors.New("no role selected: enable the ingress, the dispatcher or both")
	}
	s := &Server{cfg: cfg, source: cfg.Source, secrets: cfg.Secrets}
	if err := s.connect(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.registry = reg
	var security kafkaauth.Func
	if s.secrets != nil {
		security = func(r *contract.Resource) (*kafkaconn.Security, error) { return s.resolve(r) }
	}
	if cfg.Ingress {
		opts := []ingress.Option{ingress.WithRegistry(reg)}
		if cfg.IngressLinger > 0 {
			opts = append(opts, ingress.Linger(cfg.IngressLinger))
		}
		if security != nil {
			opts = append(opts, ingress.WithSecurity(security))
		}
		s.ingress = ingress.New(cfg.Logger.Named("ingress"), opts...)
	}
	if cfg.Dispatcher {
		sender := delivery.NewSender(cfg.Logger.Named("delivery"), delivery.WithRegistry(reg))
		opts := []dispatcher.Option{dispatcher.WithRegistry(reg)}
		if security != nil {
			opts = append(opts, dispatcher.WithSecurity(security))
		}
		if cfg.MaxInFlight > 0 {
			opts = append(opts, dispatcher.MaxInFlight(cfg.MaxInFlight))
		}
		if cfg.SessionTimeout > 0 {
			opts = append(opts, dispatcher.SessionTimeout(cfg.SessionTimeout))
		}
		if cfg.MemoryBudget > 0 {
			opts = append(opts, dispatcher.MemoryBudget(cfg.MemoryBudget, 0))
		}
		if cfg.MaxDeliveries > 0 {
			opts = append(opts, dispatcher.MaxDeliveries(cfg.MaxDeliveries))
		}
		switch {
		case cfg.MaxCommitRate > 0:
			opts = append(opts, dispatcher.MaxCommitRate(cfg.MaxCommitRate))
		case cfg.MaxCommitRate < 0:
			opts = append(opts, dispatcher.MaxCommitRate(0))
		}
		if cfg.SeparateReads {
			opts = append(opts, dispatcher.SharedReads(false))
		}
		s.dispatcher = dispatcher.New(cfg.Logger.Named("dispatcher"), sender, opts...)
	}
	return s, nil
}

// Run serves until ctx ends or a server fails, then stops gracefully: the ingress stops
// accepting, in-flight deliveries finish or are abandoned, and completed offsets are committed.
func (s *Server) Run(ctx context.Context) error {
	cfg := s.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	serve := func(name, addr string, srv server) (server, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s listening on %s: %w", name, addr, err)
		}
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
	var servers []server
	admin, err := serve("admin", orDefault(cfg.AdminAddr, ":9090"),
		&http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute})
	if err != nil {
		_ = s.close(ctx)
		return err
	}
	servers = append(servers, admin)
	if s.ingress != nil {
		in, err := serve("ingress", orDefault(cfg.IngressAddr, ":8080"), s.ingress.Server())
		if err != nil {
			_ = admin.Close()
			_ = s.close(ctx)
			wg.Wait()
			return err
		}
		servers = append(servers, in)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.source.Run(ctx, s.Apply); err != nil {
			errs <- fmt.Errorf("contract source: %w", err)
		}
	}()
	if s.secrets != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.followSecrets(ctx)
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
		cfg.Logger.Error("stopping", zap.Error(runErr))
	}
	cancel()
	stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	for _, srv := range servers {
		_ = srv.Shutdown(stopCtx)
	}
	if err := s.close(stopCtx); err != nil && runErr == nil {
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

// connect fills in the contract source and the Secrets source that s.cfg leaves to the Server:
// the contract file or ConfigMaps, and the Kubernetes Secrets when there is a Kubernetes API.
func (s *Server) connect() error {
	cfg := s.cfg
	needSource := s.source == nil && cfg.ContractFile == ""
	needSecrets := s.secrets == nil && (needSource || (cfg.Source == nil && cfg.Kubeconfig != ""))
	if s.source == nil && cfg.ContractFile != "" {
		s.source = contractsource.NewFile(cfg.ContractFile, 0, cfg.Logger)
	}
	if !needSource && !needSecrets {
		return nil
	}
	rest, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if needSource {
		s.source = contractsource.NewConfigMaps(client, orDefault(cfg.Namespace, "knative-eventing"), "", cfg.Logger)
	}
	if needSecrets {
		k := kafkaauth.NewKubernetes(client, cfg.Logger.Named("secrets"))
		s.secrets, s.closeSecrets = k, k.Close
	}
	return nil
}

// followSecrets re-applies the last contract whenever a Secret it references changes, so that
// new credentials make new clients (and egresses restart with them) without a restart.
func (s *Server) followSecrets(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.secrets.Changes():
		}
		s.mu.Lock()
		if c := s.last; c != nil {
			s.cfg.Logger.Info("a referenced secret changed; applying the contract again", zap.Uint64("generation", c.Generation))
			if err := s.apply(ctx, c); err != nil {
				s.cfg.Logger.Error("applying the contract after a secret changed", zap.Error(err))
			}
		}
		s.mu.Unlock()
	}
}

// Apply makes c the contract both roles serve; c must not be modified afterwards. An error says
// what a role could not start; Status then tells what is served, and the generation is not
// reported as applied.
func (s *Server) Apply(ctx context.Context, c *contract.Contract) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ctx, c)
}

// apply is Apply with mu held: it follows the Secrets c references (waiting, bounded, for new
// ones to be read) and applies c to both roles.
func (s *Server) apply(ctx context.Context, c *contract.Contract) error {
	s.last = c
	if s.secrets != nil {
		if err := s.secrets.Follow(ctx, kafkaauth.Refs(c)); err != nil {
			s.cfg.Logger.Warn("following the secrets the contract references", zap.Error(err))
		}
		s.resolve = kafkaauth.Cached(s.secrets)
	}
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

func (s *Server) close(ctx context.Context) error {
	if s.closeSecrets != nil {
		defer s.closeSecrets()
	}
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
func (s *Server) Status() contract.Status {
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

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+contract.StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for pattern, h := range s.cfg.AdminHandlers {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.applied.Load() {
			http.Error(w, "no contract applied yet", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// server is what Run serves on a listener and stops: net/http's Server (admin) or the ingress's.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}
