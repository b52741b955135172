package h1transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkRoundTrip posts a 1 KiB event with a delivery's headers to an in-process server
// answering 202, from as many goroutines as GOMAXPROCS × 8, through this transport and through
// net/http's. Server and client share the process, so ns/op is both sides' cost per request.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 1024)
	header := http.Header{
		"Ce-Specversion": {"1.0"}, "Ce-Id": {"e-123456"}, "Ce-Source": {"/bench/source"}, "Ce-Type": {"dev.knkafka.bench"},
		"Ce-Time": {"2026-12-06T01:02:03.456Z"}, "Content-Type": {"application/json"}, "Prefer": {"reply"}, "Kn-Namespace": {"bench"},
	}
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 1000}},
		{"h1transport", &Transport{Fallback: http.DefaultTransport}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cl := &http.Client{Transport: c.rt}
			b.SetParallelism(8)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
					for k, v := range header {
						req.Header[k] = v
					}
					resp, err := cl.Do(req)
					if err != nil {
						cancel()
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					cancel()
				}
			})
			cl.CloseIdleConnections()
		})
	}
}
