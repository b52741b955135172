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
	if rest, found := strings.CutPrefix(id, "partition:"); found {
		return parseSourceID(rest)
	}
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

// sourcePhase is the sink phase of KafkaSource drains, whose events have the ids the source gives
// converted records: "partition:<p>/offset:<o>".
const sourcePhase = "source"

// parseSourceID maps "<p>/offset:<o>" to the sequence number o*partitions+p: unique per record of
// a fresh topic with the benchmark's partition count (the sink is Reset with n*partitions slots,
// since keyed records spread unevenly over the partitions).
func parseSourceID(rest string) (phase string, seq int, ok bool) {
	ps, offs, found := strings.Cut(rest, "/offset:")
	p, err1 := strconv.Atoi(ps)
	o, err2 := strconv.Atoi(offs)
	if !found || err1 != nil || err2 != nil || p < 0 || p >= partitions || o < 0 {
		return "", 0, false
	}
	return sourcePhase, o*partitions + p, true
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
