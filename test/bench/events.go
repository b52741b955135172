package bench

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/data-plane/pkg/cekafka"
)

// Every event of the benchmarks is a binary-mode CloudEvent with a payload of Profile.EventSize
// bytes. Its id is "<phase>-<sequence>" so the Sink can count distinct arrivals per phase, and
// the sentExtension carries the send time in Unix nanoseconds for end-to-end latency.
const (
	eventSource   = "/knkafka/bench"
	eventType     = "dev.knkafka.bench"
	sentExtension = "benchsent"
	sentHeader    = "Ce-Benchsent"
)

// payload returns n printable bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func eventID(phase string, seq int) string { return phase + "-" + strconv.Itoa(seq) }

// parseID splits an id made by eventID.
func parseID(id string) (phase string, seq int, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return "", 0, false
	}
	return id[:i], n, true
}

// httpHeader returns the binary-mode headers of event seq of phase.
func httpHeader(phase string, seq int, typ string, stamp bool) http.Header {
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", eventID(phase, seq))
	h.Set("Ce-Source", eventSource)
	h.Set("Ce-Type", typ)
	h.Set("Content-Type", "application/octet-stream")
	if stamp {
		h.Set(sentHeader, strconv.FormatInt(time.Now().UnixNano(), 10))
	}
	return h
}

// record returns event seq of phase as a Kafka record of topic, keyed by key when not empty.
func record(topic, phase string, seq int, typ, key string, data []byte) (*kgo.Record, error) {
	e := cloudevents.NewEvent()
	e.SetID(eventID(phase, seq))
	e.SetSource(eventSource)
	e.SetType(typ)
	if key != "" {
		e.SetExtension(cekafka.PartitionKeyExtension, key)
	}
	if err := e.SetData("application/octet-stream", data); err != nil {
		return nil, err
	}
	r, err := cekafka.Encode(&e)
	if err != nil {
		return nil, err
	}
	r.Topic = topic
	return r, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
