package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterDNS stands in for cluster DNS and Services: an HTTP forward proxy, given to the data plane
// as HTTP_PROXY (and made this process's proxy by TestMain, for Knative's in-process data plane:
// see listenInProcessClusterDNS), that takes the requests its dispatcher makes to cluster hostnames — the
// addresses Knative's resolver gives sinks that are Brokers, KafkaChannels or Services — to where
// they are served here. Requests for the broker ingress's host and for any `<name>-kn-channel.<ns>`
// host go to our ingress with their Host header kept (the ingress routes channels by it, brokers
// by path); requests for a registered Service host go to its test server; anything else is
// answered 502 and recorded. Go's proxy support skips loopback targets, so the tests' own
// 127.0.0.1 subscribers are reached directly as before.
type clusterDNS struct {
	// url is the proxy's address, for HTTP_PROXY.
	url string
	// ingress is the data plane's ingress host:port.
	ingress string
	srv     *http.Server

	mu       sync.Mutex
	services map[string]string // cluster hostname → host:port serving it
	unknown  []string          // hosts nothing serves, as requested
}

// clusterDomain is the suffix of the Service hostnames Knative's resolver builds.
const clusterDomain = ".svc.cluster.local"

// brokerIngressHost is the host of every Kafka-class Broker's address.
const brokerIngressHost = "kafka-broker-ingress." + systemNamespace + clusterDomain

// inProcessClusterDNS is the listener of the suite's shim, opened by TestMain (see
// listenInProcessClusterDNS); nil until then.
var inProcessClusterDNS net.Listener

// listenInProcessClusterDNS opens the suite's shim listener and makes it this process's HTTP
// proxy, for Knative's in-process HTTP clients: the MT broker ingress sends to a channel's cluster
// hostname through kncloudevents, whose transports are clones of http.DefaultTransport, so their
// proxy is http.ProxyFromEnvironment and nothing else can be injected. Go reads HTTP_PROXY once per
// process and caches it, so it must be set before anything in the process makes a request
// (kubetest.Main polls the apiserver). Loopback targets are never proxied, so the apiserver, Kafka
// and the tests' 127.0.0.1 servers are reached directly. Once net/http has read it, HTTP_PROXY is
// unset again, so that the processes the tests start (go, kn, the apiserver, Kafka's tools) do not
// inherit it; the data plane gets it explicitly.
func listenInProcessClusterDNS() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	proxyURL := "http://" + ln.Addr().String()
	if err := os.Setenv("HTTP_PROXY", proxyURL); err != nil {
		_ = ln.Close()
		return err
	}
	probe := &http.Request{URL: &url.URL{Scheme: "http", Host: brokerIngressHost}}
	got, err := http.ProxyFromEnvironment(probe)
	if uerr := os.Unsetenv("HTTP_PROXY"); err == nil {
		err = uerr
	}
	if err == nil && (got == nil || got.String() != proxyURL) {
		err = fmt.Errorf("net/http proxies %s through %v, want %s", brokerIngressHost, got, proxyURL)
	}
	if err == nil {
		// The cache must outlive the variable, or in-process clients would bypass the shim.
		if got, _ = http.ProxyFromEnvironment(probe); got == nil || got.String() != proxyURL {
			err = fmt.Errorf("net/http no longer proxies through %s once HTTP_PROXY is unset: it does not cache the environment", proxyURL)
		}
	}
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("cluster DNS shim as this process's HTTP proxy: %w", err)
	}
	inProcessClusterDNS = ln
	return nil
}

// startClusterDNS starts the proxy on ln in front of ingress (host:port).
func startClusterDNS(ln net.Listener, ingress string) (*clusterDNS, error) {
	d := &clusterDNS{url: "http://" + ln.Addr().String(), ingress: ingress, services: map[string]string{}}
	proxy := &httputil.ReverseProxy{
		// The outgoing request keeps the incoming Host header: only where it is sent changes.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host, _ = d.route(pr.In.Host)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, fmt.Sprintf("cluster DNS shim: forwarding to %s: %v", r.URL.Host, err), http.StatusBadGateway)
		},
	}
	d.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := d.route(r.Host); !ok || r.Method == http.MethodConnect || !r.URL.IsAbs() {
			d.mu.Lock()
			d.unknown = append(d.unknown, r.Method+" "+r.Host)
			d.mu.Unlock()
			http.Error(w, "cluster DNS shim: nothing serves "+r.Host, http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

// route returns the host:port serving the cluster hostname host (":80" allowed), and whether
// anything does.
func (d *clusterDNS) route(host string) (string, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ":80")
	if host == brokerIngressHost || host == sinkIngressHost || isChannelHost(host) {
		return d.ingress, true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	target, ok := d.services[host]
	return target, ok
}

// isChannelHost says whether host is a KafkaChannel's `<name>-kn-channel.<ns>.svc.cluster.local`.
func isChannelHost(host string) bool {
	rest, ok := strings.CutSuffix(host, clusterDomain)
	if !ok {
		return false
	}
	name, ns, ok := strings.Cut(rest, ".")
	return ok && ns != "" && !strings.Contains(ns, ".") && strings.HasSuffix(name, "-kn-channel") && name != "-kn-channel"
}

// serviceHost is the cluster hostname of the Service ns/name.
func serviceHost(ns, name string) string { return name + "." + ns + clusterDomain }

// registerService makes requests for the Service ns/name go to target (http://host:port, a test
// server), until t ends.
func (d *clusterDNS) registerService(t *testing.T, ns, name, target string) {
	t.Helper()
	host := serviceHost(ns, name)
	addr, ok := strings.CutPrefix(target, "http://")
	if !ok || strings.Contains(addr, "/") {
		t.Fatalf("cluster DNS shim: %q is not http://host:port", target)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.services[host]; dup {
		t.Fatalf("cluster DNS shim: %s is registered already", host)
	}
	d.services[host] = addr
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.services, host)
	})
}

// unknownHosts returns the requests made so far for hosts nothing serves.
func (d *clusterDNS) unknownHosts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.unknown)
}

// close stops the proxy.
func (d *clusterDNS) close() error { return d.srv.Close() }

// TestClusterDNS checks the shim's routes: the broker ingress and channel hosts to the ingress with
// their Host header, a registered Service to its server, and 502 for anything else.
func TestClusterDNS(t *testing.T) {
	type seen struct{ server, host, path string }
	got := make(chan seen, 10)
	serve := func(name string) string {
		srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- seen{name, r.Host, r.URL.Path}
			w.WriteHeader(http.StatusAccepted)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return ln.Addr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := startClusterDNS(ln, serve("ingress"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.close() })
	d.registerService(t, "default", "display", "http://"+serve("display"))
	proxyURL, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for _, tc := range []struct {
		url  string
		want seen
		code int
	}{
		{"http://" + brokerIngressHost + "/default/default", seen{"ingress", brokerIngressHost, "/default/default"}, 202},
		{"http://kc01-kn-channel.default.svc.cluster.local", seen{"ingress", "kc01-kn-channel.default.svc.cluster.local", "/"}, 202},
		{"http://display.default.svc.cluster.local/events/notifications", seen{"display", "display.default.svc.cluster.local", "/events/notifications"}, 202},
		{"http://other.default.svc.cluster.local/", seen{}, 502},
		{"http://kn-channel.example.com/", seen{}, 502},
	} {
		resp, err := client.Post(tc.url, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatalf("POST %s: %v", tc.url, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("POST %s through the shim: status %d, want %d", tc.url, resp.StatusCode, tc.code)
			continue
		}
		if tc.code != 202 {
			continue
		}
		if s := <-got; s != tc.want {
			t.Errorf("POST %s reached %+v, want %+v", tc.url, s, tc.want)
		}
	}
	if u := d.unknownHosts(); len(u) != 2 {
		t.Errorf("unknown hosts %v, want the two 502s", u)
	}
}
