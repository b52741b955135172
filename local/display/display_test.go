package display

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerPrintsBinaryAndStructuredEvents(t *testing.T) {
	var out bytes.Buffer
	srv := httptest.NewServer(NewHandler(&out))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"hello":"binary"}`))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "b-1")
	req.Header.Set("Ce-Source", "/demo")
	req.Header.Set("Ce-Type", "demo.binary")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("binary event answered %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL, "application/cloudevents+json",
		strings.NewReader(`{"specversion":"1.0","id":"s-1","source":"/demo","type":"demo.structured","data":{"hello":"structured"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("structured event answered %d", resp.StatusCode)
	}
	for _, want := range []string{"id: b-1", "type: demo.binary", `"hello": "binary"`, "id: s-1", "type: demo.structured"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestHandlerRejectsWhatIsNotAnEvent(t *testing.T) {
	srv := httptest.NewServer(NewHandler(&bytes.Buffer{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain text answered %d, want 400", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d, want 405", resp.StatusCode)
	}
}
