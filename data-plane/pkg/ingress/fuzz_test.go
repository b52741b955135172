package ingress

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"knkafka.dev/data-plane/pkg/cekafka"
)

// FuzzParseEvents holds the ingress to its promise to the dispatcher: whatever a client sends in
// any mode, an event the ingress would accept is valid, encodes to a record, and that record
// decodes back into a deliverable event. Anything else must be refused, never panic.
func FuzzParseEvents(f *testing.F) {
	f.Add("application/json", "1.0", "id-1", "/s", "t", `{"a":1}`)
	f.Add("application/cloudevents+json", "", "", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"x":1}}`)
	f.Add("application/cloudevents-batch+json", "", "", "", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"0.3","id":"2","source":"/s","type":"t"}]`)
	f.Add("application/cloudevents+json", "", "", "", "", `{"specversion":"1.0","id":"a\u0001","source":"/s","type":"t"}`)
	f.Add("text/plain", "0.3", "x", "urn:a", "b", "hello")
	f.Fuzz(func(t *testing.T, contentType, specVersion, id, source, typ, body string) {
		req := httptest.NewRequest(http.MethodPost, "/ns1/b1", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", contentType)
		for k, v := range map[string]string{"Ce-Specversion": specVersion, "Ce-Id": id, "Ce-Source": source, "Ce-Type": typ} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		events, err := parseEvents(req, []byte(body))
		if err != nil {
			return
		}
		for _, e := range events {
			if err := e.Validate(); err != nil {
				t.Fatalf("accepted an invalid event: %v", err)
			}
			rec, err := cekafka.EncodeValidated(e)
			if err != nil {
				t.Fatalf("accepted an event that does not encode: %v", err)
			}
			if _, err := cekafka.Decode(rec); err != nil {
				t.Fatalf("accepted an event the dispatcher cannot decode: %v", err)
			}
		}
	})
}
