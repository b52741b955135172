// Command knkafka is the all-in-one local mode: `knkafka run` serves the Brokers, Triggers,
// KafkaChannels and Subscriptions of a folder of YAML files (see local/runner), and
// `knkafka display` prints the events it receives (see local/display).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"knkafka.dev/local/display"
	"knkafka.dev/local/runner"
)

const usage = `usage:
  knkafka run --resources DIR [--bootstrap-servers HOST:PORT,...] [--ingress-addr ADDR] [--admin-addr ADDR]
  knkafka display [--addr ADDR]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:])
	case "display":
		err = runDisplay(ctx, os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "knkafka:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("knkafka run", flag.ExitOnError)
	cfg := runner.Config{Out: os.Stdout}
	fs.StringVar(&cfg.ResourcesDir, "resources", "", "folder of Broker, Trigger, KafkaChannel, Subscription, KafkaSource and ConfigMap YAML files (required)")
	servers := fs.String("bootstrap-servers", "", "Kafka bootstrap servers for every broker and channel (comma-separated); none here or in the ConfigMaps: an embedded Kafka")
	fs.StringVar(&cfg.IngressAddr, "ingress-addr", runner.DefaultIngressAddr, "where brokers and channels accept events")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", runner.DefaultAdminAddr, "serves /resources, /status, /metrics and /healthz")
	fs.IntVar(&cfg.EmbeddedKafkaPort, "embedded-kafka-port", 0, "127.0.0.1 port of the embedded Kafka, when one is started (0: any free port)")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", runner.DefaultPollInterval, "how often the resources folder is checked for changes")
	level := zapcore.InfoLevel
	fs.Var(&level, "log-level", "debug, info, warn or error")
	_ = fs.Parse(args)
	if cfg.ResourcesDir == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	cfg.BootstrapServers = runner.ParseServers(*servers)
	logger, err := newLogger(level)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	cfg.Logger = logger
	return runner.Run(ctx, cfg)
}

func runDisplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("knkafka display", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	_ = fs.Parse(args)
	fmt.Fprintf(os.Stderr, "knkafka display: printing the CloudEvents POSTed to http://%s\n", *addr)
	return display.ListenAndServe(ctx, *addr, os.Stdout)
}

// newLogger logs human-readable lines to stderr; stdout carries the resources table.
func newLogger(level zapcore.Level) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	cfg.Sampling = nil
	cfg.DisableCaller = true
	return cfg.Build()
}
