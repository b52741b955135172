package dispatcher

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDetachCopiesWithoutSharing(t *testing.T) {
	fetch := []byte("keyvalueh1")
	r := &kgo.Record{
		Topic: "t", Partition: 3, Offset: 42,
		Key: fetch[0:3], Value: fetch[3:8],
		Headers: []kgo.RecordHeader{{Key: "ce_id", Value: fetch[8:10]}, {Key: "empty"}},
	}
	c := detach(r)
	if diff := cmp.Diff(r, c, cmpopts.EquateComparable(kgo.RecordAttrs{})); diff != "" {
		t.Fatalf("detached record differs (-orig +copy):\n%s", diff)
	}
	for i := range fetch {
		fetch[i] = '#'
	}
	if string(c.Key) != "key" || string(c.Value) != "value" || string(c.Headers[0].Value) != "h1" {
		t.Fatalf("the copy changed with the fetch buffer: %q %q %q", c.Key, c.Value, c.Headers[0].Value)
	}
	if c.Headers[1].Value != nil {
		t.Fatal("a nil header value became non-nil")
	}
	// Appending to a carved slice must not overwrite its neighbour.
	_ = append(c.Key, 'X')
	if string(c.Value) != "value" {
		t.Fatalf("appending to the key overwrote the value: %q", c.Value)
	}
	if nullKey := detach(&kgo.Record{Value: []byte("v")}); nullKey.Key != nil {
		t.Fatal("a null key became non-null")
	}
}

func TestRecordBytesCountsPayloadAndHeaders(t *testing.T) {
	r := &kgo.Record{Key: make([]byte, 10), Value: make([]byte, 1000),
		Headers: []kgo.RecordHeader{{Key: "ce_id", Value: make([]byte, 20)}}}
	want := int64(recordOverhead + 10 + 1000 + len("ce_id") + 20 + 48)
	if got := recordBytes(r); got != want {
		t.Fatalf("recordBytes %d, want %d", got, want)
	}
	if got := totalBytes([]*kgo.Record{r, r}); got != 2*want {
		t.Fatalf("totalBytes %d, want %d", got, 2*want)
	}
}
