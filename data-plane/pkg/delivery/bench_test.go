package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
)

func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := NewSender(zap.NewNop())
	e := newEvent()
	t := Target{
		URL: srv.URL, Namespace: "ns", Egress: "ns/trigger",
		Delivery: contract.Delivery{Retry: 3, BackoffDelay: ms(10)},
		Header:   http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
	}
	// A lane's context, as the dispatcher delivers under: it can be cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enc, err := Encode(e, t.Namespace, t.Header)
	if err != nil {
		b.Fatal(err)
	}
	// plain is a Target as a one-off caller builds it; prepared is how the dispatcher delivers,
	// and encoded how it delivers an event many lanes share.
	for _, c := range []struct {
		name    string
		t       Target
		encoded bool
	}{{"plain", t, false}, {"prepared", s.Prepare(t), false}, {"encoded", s.Prepare(t), true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var res Result
					if c.encoded {
						res = s.DeliverEncoded(ctx, enc, c.t)
					} else {
						res = s.Deliver(ctx, e, c.t)
					}
					if res.Outcome != Delivered {
						b.Errorf("outcome = %v: %v", res.Outcome, res.Err)
						return
					}
				}
			})
		})
	}
}
