package delivery

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
)

// encodedEvents are events whose requests differ in shape: data, no data, empty data, extensions
// of several types.
func encodedEvents(t *testing.T) map[string]*event.Event {
	t.Helper()
	withData := newEvent()
	noData := event.New()
	noData.SetID("id-2")
	noData.SetType("dev.knkafka.test")
	noData.SetSource("/test")
	emptyData := noData.Clone()
	emptyData.SetID("id-3")
	if err := emptyData.SetData("text/plain", []byte{}); err != nil {
		t.Fatal(err)
	}
	extensions := newEvent()
	extensions.SetID("id-4")
	extensions.SetExtension("count", 42)
	extensions.SetExtension("flag", true)
	extensions.SetSubject("sub")
	extensions.SetDataSchema("http://example.com/schema")
	return map[string]*event.Event{"data": withData, "no data": &noData, "empty data": &emptyData, "extensions": extensions}
}

// An encoded event's requests are the ones Deliver sends — to the subscriber on every attempt and
// to the dead-letter sink after them — whatever the event's shape, extra headers and namespace.
func TestDeliverEncodedSendsWhatDeliverSends(t *testing.T) {
	trace := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "Tracestate": {"k=v"}}
	for name, e := range encodedEvents(t) {
		for _, ns := range []string{"", "ns"} {
			for _, extra := range []http.Header{nil, trace} {
				t.Run(name+"/"+ns, func(t *testing.T) {
					// Each delivery fails twice, then is dead-lettered.
					sub := newServer(t, status(http.StatusServiceUnavailable))
					dls := newServer(t, status(http.StatusAccepted))
					s, _ := newTestSender(t)
					tg := s.Prepare(Target{URL: sub.URL + "/s", DeadLetter: dls.URL + "/d", Egress: "ns/t", Delivery: contract.Delivery{Retry: 1}})
					plain := tg
					plain.Namespace, plain.Header = ns, extra
					if res := s.Deliver(context.Background(), e, plain); res.Outcome != DeadLettered {
						t.Fatalf("Deliver: %v (%v)", res.Outcome, res.Err)
					}
					enc, err := Encode(e, ns, extra)
					if err != nil {
						t.Fatal(err)
					}
					if enc.Namespace() != ns {
						t.Errorf("Namespace() = %q, want %q", enc.Namespace(), ns)
					}
					if d := e.Data(); len(d) > 0 && (len(enc.body) != len(d) || &enc.body[0] != &d[0]) {
						t.Error("the encoding holds a copy of the event's data instead of the data itself")
					}
					// The Target's own namespace and header give way to the encoded ones.
					other := tg
					other.Namespace, other.Header = "elsewhere", http.Header{"X-Other": {"1"}}
					if res := s.DeliverEncoded(context.Background(), enc, other); res.Outcome != DeadLettered {
						t.Fatalf("DeliverEncoded: %v (%v)", res.Outcome, res.Err)
					}
					reqs, dl := sub.requests(), dls.requests()
					if len(reqs) != 4 || len(dl) != 2 {
						t.Fatalf("subscriber got %d requests, sink %d; want 4 and 2", len(reqs), len(dl))
					}
					for i := range 2 {
						if diff := cmp.Diff(reqs[i], reqs[i+2]); diff != "" {
							t.Errorf("attempt %d (-Deliver +DeliverEncoded):\n%s", i+1, diff)
						}
					}
					if diff := cmp.Diff(dl[0], dl[1]); diff != "" {
						t.Errorf("dead letter (-Deliver +DeliverEncoded):\n%s", diff)
					}
				})
			}
		}
	}
}

// One Encoded serves many deliveries at once, and none of them changes it.
func TestEncodedIsSharedByConcurrentDeliveries(t *testing.T) {
	sub := newServer(t, status(http.StatusAccepted))
	redirect := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sub.URL+"/moved", http.StatusTemporaryRedirect)
	})
	s, _ := newTestSender(t)
	e := newEvent()
	enc, err := Encode(e, "ns", http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}})
	if err != nil {
		t.Fatal(err)
	}
	before := enc.header.Clone()
	targets := []Target{
		s.Prepare(Target{URL: sub.URL + "/a", Egress: "a"}),
		s.Prepare(Target{URL: redirect.URL + "/b", Egress: "b"}), // re-sent through http.Client
		{URL: sub.URL + "/c", Egress: "c"},                       // parsed per request
	}
	const each = 20
	var wg sync.WaitGroup
	for i := range each * len(targets) {
		wg.Go(func() {
			if res := s.DeliverEncoded(context.Background(), enc, targets[i%len(targets)]); res.Outcome != Delivered {
				t.Errorf("delivery %d: %v (%v)", i, res.Outcome, res.Err)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(before, enc.header); diff != "" {
		t.Errorf("deliveries changed the encoded header (-before +after):\n%s", diff)
	}
	reqs := sub.requests()
	if len(reqs) != each*len(targets) {
		t.Fatalf("subscriber got %d requests, want %d", len(reqs), each*len(targets))
	}
	for _, r := range reqs {
		if string(r.Body) != string(e.Data()) || r.Header.Get("Ce-Id") != e.ID() || r.Header.Get("Kn-Namespace") != "ns" {
			t.Fatalf("request to %s: body %q, Ce-Id %q, Kn-Namespace %q", r.URI, r.Body, r.Header.Get("Ce-Id"), r.Header.Get("Kn-Namespace"))
		}
	}
}
