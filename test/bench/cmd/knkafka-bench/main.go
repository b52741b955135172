// Command knkafka-bench runs knkafka's benchmarks (`make bench`): it starts a private Kafka,
// runs the data plane through each scenario next to its ceilings, and writes JSON, Markdown and
// plots. With a helper name as its first argument it runs that helper instead (the driver starts
// itself that way for the ceilings and the Knative peer).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	bench "knkafka.dev/test/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		if _, ok := bench.Helpers[os.Args[1]]; ok {
			if err := bench.RunHelper(ctx, os.Args[1], os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
	}
	var opts bench.Options
	flag.StringVar(&opts.Profile, "profile", "short", "short, full or smoke")
	flag.StringVar(&opts.Repo, "repo", ".", "the knkafka checkout")
	flag.StringVar(&opts.Dataplane, "dataplane", "", "the knkafka-dataplane binary (required)")
	flag.StringVar(&opts.Out, "out", "test/bench/results", "results directory")
	flag.StringVar(&opts.Bootstrap, "bootstrap-servers", "", "use this Kafka instead of starting a private one")
	flag.StringVar(&opts.MicroFile, "micro", "", "go test -bench output to include")
	flag.StringVar(&opts.PprofDir, "pprof", "", "write CPU profiles of both roles at each end-to-end fixed rate into this directory")
	dpEnv := flag.String("dataplane-env", "", "space-separated VAR=VALUE settings for the data-plane processes only")
	scenarios := flag.String("scenarios", "", "comma-separated subset of ingress,dispatcher,e2e,reactivity,footprint,fanout,brokers,peer (all of them when empty), or the opt-in incumbent (Knative's Kafka broker through scenario 3; needs hack/incumbent.sh build)")
	fanOut := flag.String("fanout", "", "comma-separated trigger counts of the fan-out steps, instead of the profile's")
	flag.Parse()
	if opts.Dataplane == "" {
		fmt.Fprintln(os.Stderr, "--dataplane is required")
		os.Exit(2)
	}
	opts.DataplaneEnv = strings.Fields(*dpEnv)
	if *scenarios != "" {
		opts.Scenarios = strings.Split(*scenarios, ",")
	}
	if *fanOut != "" {
		for _, s := range strings.Split(*fanOut, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "--fanout: %q is not a trigger count\n", s)
				os.Exit(2)
			}
			opts.FanOut = append(opts.FanOut, n)
		}
	}
	opts.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	res, rendered, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	path, err := bench.WriteResults(res, rendered, opts.Out)
	fmt.Println(rendered.Markdown)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writing results:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "results: %s (and .md, plots beside it)\n", path)
	if len(res.Errors) > 0 {
		os.Exit(1)
	}
}
