package h1server

import (
	"bytes"
	"net/http"
	"sync/atomic"
	"testing"
)

// The requests Go's http.Client sends for an event — the CloudEvents SDKs' and the load
// generators' — are served on the plain path (net/http would have put its Server in the
// request's context).
func TestGoClientRequestsTakeThePlainPath(t *testing.T) {
	var plain, handed atomic.Int32
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(http.ServerContextKey) == nil {
			plain.Add(1)
		} else {
			handed.Add(1)
		}
		w.WriteHeader(http.StatusAccepted)
	}), nil)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/ns/broker", bytes.NewReader(make([]byte, 1024)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "1")
		req.Header.Set("Ce-Source", "/s")
		req.Header.Set("Ce-Type", "t")
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("got %d", resp.StatusCode)
		}
	}
	if plain.Load() != 3 || handed.Load() != 0 {
		t.Errorf("%d requests on the plain path and %d handed to net/http; want all 3 on the plain path", plain.Load(), handed.Load())
	}
}
