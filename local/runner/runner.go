// Package runner is knkafka's all-in-one local mode: Run reads Brokers, Triggers, KafkaChannels,
// Subscriptions and their ConfigMaps from a folder of YAML files, turns them into the routing
// contract with the same builders the controllers use (Build), creates and deletes their topics,
// and serves them with an in-process data plane (ingress and dispatcher) — against a given Kafka or
// an embedded one. It follows the folder live, keeps the last good version of a bad file, and
// reports every object's readiness as a table on Config.Out and as JSON at GET /resources.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/data-plane/pkg/contractsource"
	"knkafka.dev/data-plane/pkg/dataplane"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
	"knkafka.dev/local/resources"
)

// Defaults of Config.
const (
	DefaultIngressAddr  = "127.0.0.1:8080"
	DefaultAdminAddr    = "127.0.0.1:9090"
	DefaultPollInterval = 250 * time.Millisecond
	// retryInterval is how often a failed topic or contract apply is retried without a change.
	retryInterval = 5 * time.Second
)

// ResourcesPath is the admin server's path listing every object and its conditions.
const ResourcesPath = "/resources"

// Config configures Run.
type Config struct {
	// ResourcesDir is the folder of YAML files; required.
	ResourcesDir string
	// BootstrapServers, when set, serve every Broker and KafkaChannel whatever their ConfigMaps
	// say. With none here and none in a ConfigMap, an embedded in-process Kafka is started.
	BootstrapServers []string
	// IngressAddr is where events are accepted (DefaultIngressAddr when empty).
	IngressAddr string
	// AdminAddr serves /resources, /status, /metrics and /healthz (DefaultAdminAddr when empty).
	AdminAddr string
	// EmbeddedKafkaPort is the 127.0.0.1 port of the embedded Kafka, when one is started; 0 picks
	// a free one. A fixed port lets a KafkaSource of the folder, and a producer tool, name it.
	EmbeddedKafkaPort int
	// PollInterval is how often the folder is checked for changes (DefaultPollInterval when 0).
	PollInterval time.Duration
	// Out receives the resources table every time it changes; nil discards it.
	Out io.Writer
	// Logger is required.
	Logger *zap.Logger
}

// Run serves cfg until ctx ends, then stops gracefully: the ingress stops accepting, deliveries
// in flight finish (bounded) and completed offsets are committed before the embedded Kafka, if
// any, stops.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ResourcesDir == "" {
		return errors.New("no resources folder given")
	}
	if cfg.IngressAddr == "" {
		cfg.IngressAddr = DefaultIngressAddr
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = DefaultAdminAddr
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	r := &runner{
		cfg:     cfg,
		logger:  cfg.Logger,
		folder:  newFolder(cfg.ResourcesDir),
		clients: kafka.NewClients(cfg.Logger.Named("admin")),
		secrets: kafkaauth.NewStatic(nil),
		opts:    Options{IngressAddr: cfg.IngressAddr, BootstrapServers: cfg.BootstrapServers},
	}
	r.topics = newTopics(r.clients, cfg.Logger.Named("topics"))
	defer r.close()
	if _, err := r.folder.scan(); err != nil {
		return err
	}
	dp, err := dataplane.New(dataplane.Config{
		Ingress: true, Dispatcher: true,
		IngressAddr: cfg.IngressAddr, AdminAddr: cfg.AdminAddr,
		Source:        r,
		Secrets:       r.secrets,
		AdminHandlers: map[string]http.Handler{"GET " + ResourcesPath: http.HandlerFunc(r.serveResources)},
		Logger:        cfg.Logger,
	})
	if err != nil {
		return err
	}
	r.dp = dp
	return dp.Run(ctx)
}

// runner is the contract Source of the data plane: it follows the folder and applies what it
// means.
type runner struct {
	cfg     Config
	logger  *zap.Logger
	folder  *folder
	clients *kafka.Clients
	topics  *topics
	dp      *dataplane.Server
	// secrets are the Secrets of the folder, for the data plane and for the topics' admin clients.
	secrets *kafkaauth.Static

	opts     Options
	embedded *kfake.Cluster
	// current is the content of the contract at generation; pending says it is not applied yet,
	// applyErr why not.
	current    []contract.Resource
	generation uint64
	pending    bool
	applyErr   error
	lastTable  string
	lastTry    time.Time

	mu   sync.Mutex // guards view, read by the admin server
	view view
}

// Run follows the folder until ctx ends, applying every change through apply.
func (r *runner) Run(ctx context.Context, apply contractsource.ApplyFunc) error {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	first := true
	for {
		changed, err := r.folder.scan()
		if err != nil {
			r.logger.Error("cannot read the resources folder; the last good state keeps running", zap.Error(err))
		}
		if first || len(changed) > 0 || r.retryDue() {
			r.logFileErrors(changed, first)
			r.sync(ctx, apply)
			first = false
		}
		r.printTable()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (r *runner) retryDue() bool {
	r.mu.Lock()
	failing := r.pending || len(r.view.topicErrs) > 0
	r.mu.Unlock()
	return failing && time.Since(r.lastTry) >= retryInterval
}

// logFileErrors logs the files that just turned bad (every bad one on the first pass).
func (r *runner) logFileErrors(changed []string, all bool) {
	errs := r.folder.fileErrors()
	if all {
		for path := range errs {
			changed = append(changed, path)
		}
	}
	for _, path := range changed {
		if err := errs[path]; err != nil {
			r.logger.Error("cannot read a resource file; its last good version keeps running", zap.String("path", path), zap.Error(err))
		} else if _, ok := r.folder.files[path]; ok {
			r.logger.Info("read resource file", zap.String("path", path))
		} else {
			r.logger.Info("resource file removed", zap.String("path", path))
		}
	}
}

// sync builds the plan of the folder, creates its topics, applies its contract and deletes the
// topics no longer needed.
func (r *runner) sync(ctx context.Context, apply contractsource.ApplyFunc) {
	r.lastTry = time.Now()
	set, err := r.folder.set()
	if err != nil {
		r.logger.Error("conflicting resource files; the first definition wins", zap.Error(err))
	}
	plan := Build(set, r.opts)
	if plan.NeedsDefaultServers && r.embedded == nil {
		if err := r.startEmbedded(); err != nil {
			r.logger.Error("cannot start the embedded Kafka", zap.Error(err))
		} else {
			plan = Build(set, r.opts)
		}
	}
	for _, o := range plan.Objects {
		if o.Problem != nil {
			r.logger.Warn("not served", zap.String("resource", o.Kind+" "+o.Namespace+"/"+o.Name),
				zap.String("reason", o.Problem.Reason), zap.String("message", o.Problem.Message))
		}
	}
	r.secrets.Replace(secretsOf(set))
	topicErrs := r.topics.ensure(ctx, plan.Topics, r.securityOf(plan))

	if r.generation == 0 || !reflect.DeepEqual(plan.Contract.Resources, r.current) {
		r.generation++
		r.current = plan.Contract.Resources
		r.pending = true
	}
	if r.pending {
		c := plan.Contract
		c.Generation = r.generation
		r.applyErr = apply(ctx, &c)
		if r.applyErr != nil {
			r.logger.Error("applying the contract", zap.Uint64("generation", c.Generation), zap.Error(r.applyErr))
		} else {
			r.pending = false
			r.topics.prune(ctx, plan.Topics, owners(plan))
		}
	}
	r.mu.Lock()
	r.view = view{plan: plan, generation: r.generation, applyErr: r.applyErr, topicErrs: topicErrs,
		fileErrs: r.folder.fileErrors(), origins: r.folder.origins()}
	r.mu.Unlock()
}

// secretsOf returns the Secrets of set by reference.
func secretsOf(set *resources.Set) map[kafkaauth.Ref]map[string][]byte {
	out := make(map[kafkaauth.Ref]map[string][]byte, len(set.Secrets))
	for _, s := range set.Secrets {
		out[kafkaauth.Ref{Namespace: s.Namespace, Name: s.Name}] = s.Data
	}
	return out
}

// securityOf resolves the Security of the resources of plan, by UID, from the folder's Secrets:
// the same settings the data plane's clients use.
func (r *runner) securityOf(plan *Plan) securityFunc {
	return func(owner string) (*kafkaconn.Security, error) {
		for i := range plan.Contract.Resources {
			if res := &plan.Contract.Resources[i]; res.UID == owner {
				return kafkaauth.Resolve(r.secrets, res)
			}
		}
		return nil, nil
	}
}

// owners are the UIDs of plan's Brokers, KafkaChannels and KafkaSinks, with or without a
// problem: a topic is deleted only when its owner is gone, never because its config turned bad.
func owners(plan *Plan) map[string]bool {
	out := map[string]bool{}
	for _, o := range plan.Objects {
		if o.Kind == contract.KindBroker || o.Kind == contract.KindKafkaChannel || o.Kind == contract.KindKafkaSink {
			out[o.UID] = true
		}
	}
	return out
}

// startEmbedded starts a one-broker in-process Kafka on 127.0.0.1 (Config.EmbeddedKafkaPort, or a
// free port) and makes it the default for configs without bootstrap servers.
func (r *runner) startEmbedded() error {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if r.cfg.EmbeddedKafkaPort > 0 {
		opts = append(opts, kfake.Ports(r.cfg.EmbeddedKafkaPort))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	r.embedded = c
	r.opts.DefaultServers = c.ListenAddrs()
	r.logger.Warn("started an EMBEDDED in-process Kafka: it keeps NOTHING across restarts (topics, events, offsets); "+
		"give --bootstrap-servers for a real one", zap.Strings("bootstrapServers", r.opts.DefaultServers))
	return nil
}

func (r *runner) resources() []Resource {
	r.mu.Lock()
	v := r.view
	r.mu.Unlock()
	var st contract.Status
	if r.dp != nil {
		st = r.dp.Status()
	}
	return resourcesOf(v, st)
}

func (r *runner) printTable() {
	t := table(r.resources())
	if t == r.lastTable {
		return
	}
	r.lastTable = t
	_, _ = fmt.Fprintln(r.cfg.Out, t)
}

func (r *runner) serveResources(w http.ResponseWriter, _ *http.Request) {
	rs := r.resources()
	if rs == nil {
		rs = []Resource{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rs)
}

func (r *runner) close() {
	r.clients.Close()
	if r.embedded != nil {
		r.embedded.Close()
		r.logger.Info("stopped the embedded Kafka; its topics and offsets are gone")
	}
}

// ParseServers splits a comma-separated list of host:port, dropping blanks.
func ParseServers(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
