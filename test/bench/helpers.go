package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/eventing/pkg/channel"
	"knative.dev/eventing/pkg/channel/fanout"
	"knative.dev/eventing/pkg/channel/multichannelfanout"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"knkafka.dev/data-plane/pkg/h1transport"
)

// Helpers are the roles the driver runs as child processes of its own binary, so that each
// ceiling and the peer are separate processes like the data plane they are compared with.
var Helpers = map[string]func(ctx context.Context, args []string) error{
	"http-202":    serve202,
	"http-client": httpClient,
	"knative-imc": knativeIMC,
}

// serve202 is the bare ingress ceiling: net/http answering 202 after reading the body, no Kafka.
func serve202(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("http-202", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ClientResult is what the bare HTTP client reports on stdout.
type ClientResult struct {
	Sent    int     `json:"sent"`
	Failed  int     `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// httpClient is the dispatcher ceiling: a bare Go HTTP client posting n binary-mode events with
// the given concurrency, as the dispatcher's delivery would (same headers, keep-alive pool sized
// to the concurrency), with no Kafka, filter or offset tracking; through net/http's Transport, or
// through the dispatcher's own (--transport h1transport).
func httpClient(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("http-client", flag.ContinueOnError)
	url := fs.String("url", "", "subscriber URL")
	n := fs.Int("n", 10000, "events to post")
	conc := fs.Int("concurrency", 100, "requests in flight")
	phase := fs.String("phase", "client", "event id prefix")
	size := fs.Int("size", 1024, "payload bytes")
	transport := fs.String("transport", "net/http", "net/http (the ceiling issue 16 names), or h1transport (the dispatcher's own)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tr http.RoundTripper = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *conc,
		MaxIdleConnsPerHost: *conc,
		IdleConnTimeout:     90 * time.Second,
	}
	switch *transport {
	case "net/http":
	case "h1transport":
		tr = &h1transport.Transport{Fallback: tr, MaxIdleConnsPerHost: *conc}
	default:
		return fmt.Errorf("--transport %q: want net/http or h1transport", *transport)
	}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := payload(*size)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytesReader(body))
				req.Header = httpHeader(*phase, i, eventType, false)
				req.Header.Set("Prefer", "reply")
				resp, err := cl.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res := ClientResult{Sent: *n, Failed: int(failed.Load()), Seconds: time.Since(start).Seconds()}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// knativeIMC runs Knative's in-memory channel data path from knative.dev/eventing — the
// kncloudevents HTTP receiver, the multi-channel fan-out handler and a FanoutEventHandler with one
// subscription, dispatching through kncloudevents.Dispatcher — as its dispatcher does, minus the
// Kubernetes informers that would configure it: the channel "default/imc" and its subscriber are
// given as flags. It answers 202 once the subscriber accepted (synchronous fan-out, the
// dispatcher's default); nothing is durable.
func knativeIMC(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("knative-imc", flag.ContinueOnError)
	port := fs.Int("port", 0, "listen port (all interfaces, as Knative's receiver does)")
	subscriber := fs.String("subscriber", "", "subscriber URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *port == 0 || *subscriber == "" {
		return errors.New("--port and --subscriber are required")
	}
	sub, err := apis.ParseURL(*subscriber)
	if err != nil {
		return err
	}
	logger, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		return err
	}
	// The in-memory channel dispatcher's defaults (MAX_IDLE_CONNS, MAX_IDLE_CONNS_PER_HOST).
	kncloudevents.ConfigureConnectionArgs(&kncloudevents.ConnectionArgs{MaxIdleConns: 1000, MaxIdleConnsPerHost: 100})
	dispatcher := kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, nil)
	uid := types.UID("imc-uid")
	handler, err := fanout.NewFanoutEventHandler(logger,
		fanout.Config{Subscriptions: []fanout.Subscription{{Subscriber: duckv1.Addressable{URL: sub},
			Name: "sub", Namespace: "default", UID: "sub-uid"}}},
		nil, &duckv1.KReference{Kind: "InMemoryChannel", Namespace: "default", Name: "imc"}, &uid,
		dispatcher, nil, nil, channel.ResolveChannelFromPath(channel.ParseChannelFromPath))
	if err != nil {
		return fmt.Errorf("fanout handler: %w", err)
	}
	multi := multichannelfanout.NewEventHandler(ctx, logger)
	multi.SetChannelHandler("default/imc", handler)
	recv := kncloudevents.NewHTTPEventReceiver(*port, kncloudevents.WithReadTimeout(10*time.Minute))
	errs := make(chan error, 1)
	go func() { errs <- recv.StartListen(ctx, multi) }()
	// The receiver drains for up to 45 s on shutdown; a benchmark peer need not wait for that.
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
		return nil
	}
}

// RunHelper runs the named helper until ctx ends.
func RunHelper(ctx context.Context, name string, args []string) error {
	h, ok := Helpers[name]
	if !ok {
		return fmt.Errorf("unknown helper %q", name)
	}
	return h(ctx, args)
}

func freePort() (int, error) {
	a, err := freeAddr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(a)
	return strconv.Atoi(p)
}
