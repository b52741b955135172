package delivery

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Encoded is an event's request to a subscriber, encoded once for the deliveries of that event to
// many Targets: the binary-mode CloudEvents headers and body, the extra headers, Kn-Namespace and
// Prefer, exactly as Deliver would write them for each attempt. A fan-out delivers one event to
// hundreds of subscribers, and encoding it for each of them was a tenth of the dispatcher's own
// work per delivery (docs/benchmarks.md).
//
// It is read only once made: any number of deliveries may use it at once, and each request sends
// its header map as it is (transports and http.Client only read a request's header).
type Encoded struct {
	event     *event.Event
	namespace string
	// extra is the header given to Encode; a dead-letter sink's requests carry it too.
	extra http.Header
	// header is the whole header of a request to a subscriber.
	header http.Header
	// body is the request's body when hasBody: the event's data, maybe empty.
	body    []byte
	hasBody bool
	getBody func() (io.ReadCloser, error)
}

// Encode encodes e's request to a subscriber once: extra (may be nil) holds headers to send with
// it, such as trace context, and namespace is its Kn-Namespace ("" for none). e and extra must not
// change afterwards. An event the SDK cannot write fails here as its delivery would.
func Encode(e *event.Event, namespace string, extra http.Header) (*Encoded, error) {
	req := &http.Request{Header: make(http.Header, requestHeaders)}
	if err := writeEvent(context.Background(), req, e, extra, namespace, roleSubscriber); err != nil {
		return nil, err
	}
	enc := &Encoded{event: e, namespace: namespace, extra: extra, header: req.Header}
	if req.Body != nil {
		enc.hasBody = true
		if req.Body != http.NoBody {
			b, err := bodyOf(req, e.Data())
			if err != nil {
				return nil, err
			}
			enc.body = b
		}
		enc.getBody = func() (io.ReadCloser, error) { return enc.newBody(), nil }
	}
	return enc, nil
}

// bodyOf returns the body the SDK's writer gave req. Binary mode writes the event's data as it
// is (TestDeliverEncodedSendsWhatDeliverSends compares every byte with Deliver's requests), so a
// body of data's length is data itself: no second copy lives as long as the encoding, which a
// fan-out keeps until its last lane is done, and none is read. Any other body is read.
func bodyOf(req *http.Request, data []byte) ([]byte, error) {
	if req.ContentLength == int64(len(data)) {
		return data, nil
	}
	return io.ReadAll(req.Body)
}

// Namespace is the Kn-Namespace enc was encoded with.
func (enc *Encoded) Namespace() string { return enc.namespace }

// fill gives req enc's header and a body of its own, as the SDK's writer would set them.
func (enc *Encoded) fill(req *http.Request) {
	req.Header = enc.header
	if !enc.hasBody {
		return
	}
	req.ContentLength = int64(len(enc.body))
	req.Body = enc.newBody()
	req.GetBody = enc.getBody
}

func (enc *Encoded) newBody() io.ReadCloser {
	if len(enc.body) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(enc.body))
}

// DeliverEncoded is Deliver for the event enc was encoded from, whose requests to t.URL send enc
// as it is. t's Namespace and Header are enc's for the whole delivery: the dead-letter sink's
// requests carry them too.
func (s *Sender) DeliverEncoded(ctx context.Context, enc *Encoded, t Target) Result {
	t.Namespace, t.Header = enc.namespace, enc.extra
	return s.deliver(ctx, enc.event, enc, t)
}
