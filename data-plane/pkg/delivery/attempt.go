package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.uber.org/zap"
)

// attempt is the outcome of one HTTP exchange.
type attempt struct {
	// status is the response status; 0 when there was no response.
	status int
	// err is nil for a 2xx response.
	err error
	// permanent marks errors no retry can fix (a malformed URL, an unencodable event).
	permanent bool
	// body is the start of a non-2xx response body, at most Sender.maxErrorDataBytes long.
	body []byte
	// retryAfter is the response's Retry-After header.
	retryAfter string
	// reply is the event in a 2xx response body, when asked for and valid.
	reply *event.Event
}

// attempt makes one request bounded by timeout and reads what the response is needed for. The
// body is always closed; it is drained (up to maxDrainBytes) so the connection can be reused.
func (s *Sender) attempt(ctx context.Context, r request, timeout time.Duration) attempt {
	req, err := s.newRequest(ctx, r)
	if err != nil {
		return attempt{err: err, permanent: true}
	}
	start := time.Now()
	resp, done, err := s.do(req, start.Add(timeout))
	if err != nil {
		r.series.attempt(r.role, 0, time.Since(start))
		return attempt{err: fmt.Errorf("sending event: %w", err)}
	}
	defer func() {
		if resp.ContentLength != 0 { // most answers have no body: nothing to drain
			_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
		}
		_ = resp.Body.Close()
		done()
	}()

	a := attempt{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.err = fmt.Errorf("unexpected response status %d", resp.StatusCode)
		a.retryAfter = resp.Header.Get(headerRetryAfter)
		if s.maxErrorDataBytes > 0 {
			// A read error leaves what was read: the error data is best effort.
			a.body, _ = io.ReadAll(io.LimitReader(resp.Body, int64(s.maxErrorDataBytes)))
		}
	} else if r.role == roleSubscriber {
		a.reply = s.readReply(ctx, r, resp)
	}
	r.series.attempt(r.role, resp.StatusCode, time.Since(start))
	return a
}

// do sends req, bounded by deadline until the response body is closed; done must be called once
// it is. http.Client adds three things to its transport: an Authorization header from
// credentials in the URL, redirects followed, and errors wrapped in *url.Error. A request to a URL
// without credentials goes straight to the Sender's own transport, bounded by deadline without a
// context of its own, which spares the client's copy of the headers kept for redirects and the
// context's timer (a few per cent of a delivery each); an answer that redirects is then dropped
// and the request made again through the client, which follows it as before (the redirecting URL
// sees the request twice).
func (s *Sender) do(req *http.Request, deadline time.Time) (resp *http.Response, done func(), err error) {
	if s.direct == nil || req.URL.User != nil {
		return s.viaClient(req, deadline)
	}
	resp, err = s.direct.RoundTripDeadline(req, deadline)
	if err != nil {
		return nil, nothing, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: err}
	}
	if !redirects(resp) {
		return resp, nothing, nil
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
	_ = resp.Body.Close()
	again, err := rewound(req)
	if err != nil {
		return nil, nothing, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: err}
	}
	return s.viaClient(again, deadline)
}

// viaClient sends req through the Sender's client under a context with deadline.
func (s *Sender) viaClient(req *http.Request, deadline time.Time) (*http.Response, func(), error) {
	ctx, cancel := context.WithDeadline(req.Context(), deadline)
	resp, err := s.client.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, nothing, err
	}
	return resp, cancel, nil
}

func nothing() {}

// redirects says whether http.Client would follow resp.
func redirects(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// rewound is a copy of req whose body starts again.
func rewound(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

// urlErrorOp is the Op http.Client gives its errors: the method, capitalised as net/http does.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// requestHeaders is room for a delivery's headers: the CloudEvents attributes and extensions,
// Content-Type, Prefer, Kn-Namespace and trace context.
const requestHeaders = 12

// newRequest builds a binary-mode POST of r.event with the spec's headers, or of r.encoded.
func (s *Sender) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var (
		req *http.Request
		err error
	)
	if r.parsed != nil {
		// As http.NewRequestWithContext(ctx, POST, r.url, nil) would build it, without parsing
		// r.url again, and with Host left empty (it is the URL's host either way): a Host set
		// makes http.Client copy the URL on every request.
		req = (&http.Request{
			Method: http.MethodPost, URL: r.parsed,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}).WithContext(ctx)
	} else if req, err = http.NewRequestWithContext(ctx, http.MethodPost, r.url, nil); err != nil {
		return nil, fmt.Errorf("building request to %q: %w", r.url, err)
	}
	if r.encoded != nil {
		r.encoded.fill(req)
		return req, nil
	}
	if req.Header == nil {
		req.Header = make(http.Header, requestHeaders)
	}
	if err := writeEvent(ctx, req, r.event, r.header, r.namespace, r.role); err != nil {
		return nil, err
	}
	return req, nil
}

// writeEvent puts e into req in binary mode, then the extra headers h, Kn-Namespace (unless
// namespace is "") and, for a subscriber, Prefer: reply.
func writeEvent(ctx context.Context, req *http.Request, e *event.Event, h http.Header, namespace string, to role) error {
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(e), req); err != nil {
		return fmt.Errorf("encoding event %q: %w", e.ID(), err)
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if namespace != "" {
		req.Header.Set(headerKnNamespace, namespace)
	}
	if to == roleSubscriber {
		// Knative asks every subscriber for a reply, whether or not one will be routed.
		req.Header.Set(headerPrefer, "reply")
	}
	return nil
}

// errReplyTooLarge reports a 2xx body over maxReplyBytes.
var errReplyTooLarge = errors.New("reply body exceeds the size limit")

// readReply returns the CloudEvent in a 2xx response, or nil when there is none. A body that is
// not a valid event (or too large) still counts as delivered: it is logged and dropped.
func (s *Sender) readReply(ctx context.Context, r request, resp *http.Response) *event.Event {
	if len(resp.Header["Ce-Specversion"]) == 0 && len(resp.Header["Content-Type"]) == 0 {
		// Neither binary nor structured mode: the SDK would say so too, after building a message
		// for it. Most subscribers answer so.
		return nil
	}
	msg := cehttp.NewMessage(resp.Header, nil)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return nil // not an event: a plain acknowledgement
	}
	ev, err := s.parseReply(ctx, msg, resp.Body)
	if err != nil {
		s.logger.Info("dropping invalid reply",
			zap.String("egress", r.egress), zap.String("url", r.url), zap.Int("code", resp.StatusCode),
			zap.Error(err))
		return nil
	}
	return ev
}

func (s *Sender) parseReply(ctx context.Context, msg *cehttp.Message, body io.Reader) (*event.Event, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxReplyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading reply body: %w", err)
	}
	if len(b) > maxReplyBytes {
		return nil, errReplyTooLarge
	}
	msg.BodyReader = io.NopCloser(bytes.NewReader(b))
	ev, err := binding.ToEvent(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("decoding reply: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("validating reply: %w", err)
	}
	return ev, nil
}
