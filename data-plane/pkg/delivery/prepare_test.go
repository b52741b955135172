package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"knkafka.dev/control-plane/pkg/contract"
)

// parseURL must give exactly the URL and Host http.NewRequest would, or nil so that the request
// is built (and fails) as before.
func TestParseURLMatchesNewRequest(t *testing.T) {
	for _, raw := range []string{
		"http://example.com",
		"http://example.com/",
		"http://example.com:/a/b?c=d&e=%2F#frag",
		"https://user:pw@example.com:8443/p%20q",
		"http://[::1]:/x",
		"http://[::1]:8080/x",
		"http://10.0.0.1:80/a;b",
		"http://example.com/a?b",
		"ftp://example.com/x",
		"/relative",
		"http://bad host/",
		"http://example.com/%zz",
		"",
	} {
		got := parseURL(raw)
		req, err := http.NewRequest(http.MethodPost, raw, nil)
		if err != nil || req.URL.Host == "" || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
			if got != nil {
				t.Errorf("parseURL(%q) = %v, want nil (NewRequest: %v)", raw, got, err)
			}
			continue
		}
		if got == nil {
			t.Errorf("parseURL(%q) = nil, want %v", raw, req.URL)
			continue
		}
		userinfo := cmp.Comparer(func(a, b *url.Userinfo) bool { return a.String() == b.String() })
		if diff := cmp.Diff(*req.URL, *got, userinfo); diff != "" {
			t.Errorf("parseURL(%q) (-NewRequest +got):\n%s", raw, diff)
		}
		if got.Host != req.Host {
			t.Errorf("parseURL(%q).Host = %q, NewRequest's Host = %q", raw, got.Host, req.Host)
		}
	}
}

// A prepared Target sends the same requests as the plain one — to its subscriber and, after the
// retries, to its dead-letter sink — and counts into the same series.
func TestPreparedTargetDeliversAsThePlainOne(t *testing.T) {
	sub := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%2 == 1 { // the second try of each delivery fails, then it is dead-lettered
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	dls := newServer(t, status(http.StatusAccepted))
	reg := prometheus.NewRegistry()
	s, _ := newTestSender(t, WithRegistry(reg))
	addr := strings.TrimPrefix(sub.URL, "http://")
	plain := Target{
		URL: "http://" + addr + "/path/x?q=1&r=%2F", DeadLetter: dls.URL + "/dls",
		Namespace: "ns", Egress: "ns/t", Delivery: contract.Delivery{Retry: 0},
	}
	prepared := s.Prepare(plain)
	if prepared.url == nil || prepared.deadLetter == nil || prepared.series == nil {
		t.Fatalf("Prepare left the target unprepared: %+v", prepared)
	}
	for _, tg := range []Target{plain, prepared} {
		if res := s.Deliver(context.Background(), newEvent(), tg); res.Outcome != Delivered {
			t.Fatalf("first delivery: %v (%v)", res.Outcome, res.Err)
		}
		if res := s.Deliver(context.Background(), newEvent(), tg); res.Outcome != DeadLettered {
			t.Fatalf("second delivery: %v (%v)", res.Outcome, res.Err)
		}
	}
	reqs := sub.requests()
	if len(reqs) != 4 {
		t.Fatalf("subscriber got %d requests, want 4", len(reqs))
	}
	for i := range 2 {
		a, b := reqs[i], reqs[i+2]
		if a.Host != addr || a.URI != "/path/x?q=1&r=%2F" {
			t.Errorf("plain request %d went to host %q, %q", i, a.Host, a.URI)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("request %d (-plain +prepared):\n%s", i, diff)
		}
	}
	dl := dls.requests()
	if len(dl) != 2 {
		t.Fatalf("dead-letter sink got %d requests, want 2", len(dl))
	}
	if diff := cmp.Diff(dl[0], dl[1]); diff != "" {
		t.Errorf("dead-lettered request (-plain +prepared):\n%s", diff)
	}
	if dl[1].URI != "/dls" {
		t.Errorf("prepared dead letter went to %q, want /dls", dl[1].URI)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"ns/t", "subscriber", "202"}, 2},
		{[]string{"ns/t", "subscriber", "500"}, 2},
		{[]string{"ns/t", "dead_letter", "202"}, 2},
	} {
		if got := testutil.ToFloat64(s.metrics.attempts.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	for o, want := range map[string]float64{"delivered": 2, "dead_lettered": 2} {
		if got := testutil.ToFloat64(s.metrics.outcomes.WithLabelValues("ns/t", o)); got != want {
			t.Errorf("events_total{outcome=%s} = %v, want %v", o, got, want)
		}
	}
}

// Forget drops one egress's series and only those; deliveries made for it afterwards count afresh.
func TestForgetDropsTheSeriesOfOneEgress(t *testing.T) {
	sub := newServer(t, status(http.StatusAccepted))
	s, _ := newTestSender(t)
	a := s.Prepare(Target{URL: sub.URL, Egress: "ns/a"})
	b := Target{URL: sub.URL, Egress: "ns/b"}
	for _, tg := range []Target{a, a, b} {
		if res := s.Deliver(context.Background(), newEvent(), tg); res.Outcome != Delivered {
			t.Fatalf("delivery to %s: %v (%v)", tg.Egress, res.Outcome, res.Err)
		}
	}
	count := func(egress string) int {
		n := 0
		for _, c := range []prometheus.Collector{s.metrics.attempts, s.metrics.latency, s.metrics.outcomes} {
			ch := make(chan prometheus.Metric, 16)
			c.Collect(ch)
			close(ch)
			for m := range ch {
				var pb dto.Metric
				if err := m.Write(&pb); err != nil {
					t.Fatal(err)
				}
				for _, l := range pb.GetLabel() {
					if l.GetName() == "egress" && l.GetValue() == egress {
						n++
					}
				}
			}
		}
		return n
	}
	if ca, cb := count("ns/a"), count("ns/b"); ca != 3 || cb != 3 {
		t.Fatalf("series before Forget: ns/a %d, ns/b %d, want 3 each (requests, latency, events)", ca, cb)
	}
	s.Forget("ns/a")
	if ca, cb := count("ns/a"), count("ns/b"); ca != 0 || cb != 3 {
		t.Fatalf("series after Forget(ns/a): ns/a %d, ns/b %d, want 0 and 3", ca, cb)
	}
	if res := s.Deliver(context.Background(), newEvent(), s.Prepare(Target{URL: sub.URL, Egress: "ns/a"})); res.Outcome != Delivered {
		t.Fatalf("delivery after Forget: %v (%v)", res.Outcome, res.Err)
	}
	if got := testutil.ToFloat64(s.metrics.outcomes.WithLabelValues("ns/a", "delivered")); got != 1 {
		t.Errorf("events_total{egress=ns/a,outcome=delivered} = %v after Forget and one delivery, want 1", got)
	}
}

// Every answer a subscriber gives — 202 without a body, a reply, a plain body, an error with a body
// (retried) — leaves the connection to the next delivery: the Sender reads what it must and the
// transport keeps the connection alive.
func TestDeliveriesKeepOneConnectionAlive(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/reply":
			w.Header().Set("Ce-Id", "r-1")
			w.Header().Set("Ce-Source", "/reply")
			w.Header().Set("Ce-Type", "dev.knkafka.reply")
			w.Header().Set("Ce-Specversion", "1.0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"re":"ply"}`)
		case "/text":
			_, _ = io.WriteString(w, "fine, thanks")
		case "/error":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, strings.Repeat("e", 10<<10))
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := NewSender(nil, withSleep(func(context.Context, time.Duration) error { return nil }))
	for i := range 20 {
		for _, path := range []string{"/accepted", "/reply", "/text", "/error"} {
			res := s.Deliver(context.Background(), newEvent(), Target{URL: srv.URL + path, Egress: "ns/t", Delivery: contract.Delivery{Retry: 1}})
			want := Delivered
			if path == "/error" {
				want = Failed
			}
			if res.Outcome != want || (path == "/reply") != (res.Reply != nil) {
				t.Fatalf("round %d %s: outcome %v reply %v, want %v", i, path, res.Outcome, res.Reply, want)
			}
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("100 sequential deliveries opened %d connections, want 1", n)
	}
}

// What http.Client adds to the transport stays when deliveries bypass it: redirects are followed
// (the body sent again), credentials in the URL become an Authorization header, and a network
// error is a *url.Error naming the method and URL.
func TestDeliveriesKeepWhatTheHTTPClientAdds(t *testing.T) {
	type seen struct{ path, auth, body string }
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.Header.Get("Authorization"), string(b)}
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := NewSender(nil)
	drain := func() []seen {
		var out []seen
		for {
			select {
			case v := <-got:
				out = append(out, v)
			default:
				return out
			}
		}
	}

	res := s.Deliver(context.Background(), newEvent(), Target{URL: srv.URL + "/old", Egress: "ns/t"})
	if res.Outcome != Delivered || res.StatusCode != http.StatusAccepted {
		t.Fatalf("through a 307: %v %d", res.Outcome, res.StatusCode)
	}
	if reqs := drain(); len(reqs) < 2 || reqs[len(reqs)-1] != (seen{"/new", "", `{"hello":"world"}`}) {
		t.Fatalf("requests %+v, want the event to reach /new", reqs)
	}

	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1) + "/auth"
	if res := s.Deliver(context.Background(), newEvent(), Target{URL: u, Egress: "ns/t"}); res.Outcome != Delivered {
		t.Fatalf("with credentials in the URL: %v", res.Outcome)
	}
	if reqs := drain(); len(reqs) != 1 || reqs[0].auth != "Basic dXNlcjpzZWNyZXQ=" {
		t.Fatalf("requests %+v, want one with the URL's credentials as basic auth", reqs)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/gone"
	_ = ln.Close()
	res = s.Deliver(context.Background(), newEvent(), Target{URL: closed, Egress: "ns/t"})
	var ue *url.Error
	if res.Outcome == Delivered || !errors.As(res.Err, &ue) || ue.Op != "Post" || ue.URL != closed {
		t.Fatalf("to a closed port: %v %v, want a *url.Error for Post %s", res.Outcome, res.Err, closed)
	}
}
