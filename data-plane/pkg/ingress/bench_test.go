package ingress

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"knkafka.dev/data-plane/pkg/cekafka"
)

// benchBody is the 1 KiB payload of the ingress benchmarks, as test/bench sends it.
var benchBody = func() []byte {
	b := make([]byte, 1024)
	for n := range b {
		b[n] = 'a' + byte(n%26)
	}
	return b
}()

// benchRequest is a binary-mode request for event n with the headers test/bench's load sends.
func benchRequest(target string, n int) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(benchBody))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "bench-"+strconv.Itoa(n))
	req.Header.Set("Ce-Source", "/knkafka/bench")
	req.Header.Set("Ce-Type", "dev.knkafka.bench")
	req.Header.Set("Content-Type", "application/octet-stream")
	return req
}

// BenchmarkParseEncode is the CPU the ingress spends on one binary-mode event between reading
// its body and handing its record to the producer: parsing and validating the CloudEvent, and
// encoding the record.
func BenchmarkParseEncode(b *testing.B) {
	req := benchRequest("/ns1/b1", 1)
	b.ReportAllocs()
	for b.Loop() {
		events, err := parseEvents(req, benchBody)
		if err != nil {
			b.Fatal(err)
		}
		rec, err := cekafka.EncodeValidated(events[0])
		if err != nil {
			b.Fatal(err)
		}
		rec.Topic = brokerTopic
	}
}

// BenchmarkServeHTTP is one binary-mode request through the whole handler, to a kfake cluster
// (whose own CPU and allocations are part of the figure), one request at a time.
func BenchmarkServeHTTP(b *testing.B) {
	i := New(zap.NewNop(), Linger(0), ProduceTimeout(5*time.Second))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := i.Close(ctx); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	if err := i.Apply(context.Background(), testContract(fakeKafka(b))); err != nil {
		b.Fatal(err)
	}
	waitServed(b, i)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		rec := httptest.NewRecorder()
		i.ServeHTTP(rec, benchRequest("/ns1/b1", n))
		if rec.Code != http.StatusAccepted {
			b.Fatalf("got %d %q", rec.Code, rec.Body)
		}
	}
}

// waitServed waits until the broker b1 of testContract is served (its topic checked).
func waitServed(tb testing.TB, i *Ingress) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if st, ok := i.Status()["uid-b1"]; ok && st.Ready {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatal("broker b1 not served within 10s")
}
