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
	ctx := context.Background()
	// plain is a Target as a one-off caller builds it; prepared is how the dispatcher delivers.
	for name, t := range map[string]Target{"plain": t, "prepared": s.Prepare(t)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if res := s.Deliver(ctx, e, t); res.Outcome != Delivered {
						b.Errorf("outcome = %v: %v", res.Outcome, res.Err)
						return
					}
				}
			})
		})
	}
}
