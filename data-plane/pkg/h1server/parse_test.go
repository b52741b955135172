package h1server

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// sameAsNetHTTP fails t unless req, parsed here from head, is what net/http's ReadRequest makes of
// the same bytes, field by field.
func sameAsNetHTTP(t *testing.T, head []byte, req *http.Request) {
	t.Helper()
	want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		t.Fatalf("taken here, but net/http refuses %q: %v", head, err)
	}
	if req.Method != want.Method || req.URL.String() != want.URL.String() || req.URL.Path != want.URL.Path ||
		req.URL.RawPath != want.URL.RawPath || req.RequestURI != want.RequestURI {
		t.Errorf("%q: method %q path %q raw %q uri %q, net/http %q %q %q %q", head, req.Method, req.URL.Path,
			req.URL.RawPath, req.RequestURI, want.Method, want.URL.Path, want.URL.RawPath, want.RequestURI)
	}
	if req.Proto != want.Proto || req.ProtoMajor != want.ProtoMajor || req.ProtoMinor != want.ProtoMinor {
		t.Errorf("%q: proto %s, net/http %s", head, req.Proto, want.Proto)
	}
	if req.Host != want.Host || req.ContentLength != want.ContentLength || req.Close != want.Close {
		t.Errorf("%q: host %q length %d close %v, net/http %q %d %v", head, req.Host, req.ContentLength, req.Close,
			want.Host, want.ContentLength, want.Close)
	}
	if !reflect.DeepEqual(req.Header, want.Header) {
		t.Errorf("%q: headers\n %v\nnet/http\n %v", head, req.Header, want.Header)
	}
}

const plain = "POST /ns/broker HTTP/1.1\r\nHost: ingress.example:8080\r\nCe-Specversion: 1.0\r\nce-id: 1\r\n" +
	"CE-SOURCE: /s\r\nce-type:t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"

// The requests producers send are parsed here, and parsed as net/http would; everything else is
// left to net/http.
func TestParseHeadTakesPlainRequestsAsNetHTTPDoes(t *testing.T) {
	taken := []string{
		plain,
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a/b HTTP/1.1\r\nHost: [::1]:80\r\nX:  spaced \t\r\nX: second\r\nEmpty:\r\nContent-Length: 000\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nhost: x\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n" +
			"Content-Length: 1048576\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
		"POST /a;b=c/d@e:f$&+,=~ HTTP/1.1\r\nHost: x\r\nX-Odd: caf\xc3\xa9\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nconnection: Keep-Alive\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n",
	}
	for _, h := range taken {
		req := parseHead(h)
		if req == nil {
			t.Errorf("%q left to net/http; want it taken here", h)
			continue
		}
		sameAsNetHTTP(t, []byte(h), req)
	}

	left := []string{
		"GET /ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS /ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /ns/b HTTP/1.0\r\nHost: x\r\n\r\n",
		"POST /ns/b HTTP/2.0\r\nHost: x\r\n\r\n",
		"POST http://x/ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST * HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /ns/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /ns%2Fb HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /ns/b#f HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST  /ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: a b\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nX : v\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
		"POST /ns/b HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n",
		"post /ns/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /! HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, h := range left {
		if req := parseHead(h); req != nil {
			t.Errorf("%q taken here; want it left to net/http", h)
		}
	}
}

// headEnd finds the end of a head written with CRLF and gives up on bare line feeds.
func TestHeadEnd(t *testing.T) {
	for in, want := range map[string]int{
		"POST / HTTP/1.1\r\nHost: x\r\n\r\nbody\r\n\r\n": len("POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"POST / HTTP/1.1\r\nHost: x\r\n":                 0,
		"POST / HTTP/1.1\r\nHost: x\r\n\r":               0,
		"POST / HTTP/1.1\nHost: x\n\n":                   -1,
		"POST / HTTP/1.1\r\nHost: x\n\r\n":               -1,
		"":                                               0,
	} {
		if got := headEnd([]byte(in)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

// Whatever bytes come in, a head taken here is one net/http reads the same way.
func FuzzParseHead(f *testing.F) {
	f.Add(plain)
	f.Add("POST /a HTTP/1.1\r\nHost: x\r\nX: 1\r\nX: 2\r\nContent-Length: 10\r\n\r\n")
	f.Add("POST /a HTTP/1.1\r\nHost: x\r\nX:\t\r\n\r\n")
	f.Add("POST /a HTTP/1.1\r\nHOST: x\r\nx-y-z: 1\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		end := headEnd([]byte(s))
		if end <= 0 {
			return
		}
		head := s[:end]
		req := parseHead(head)
		if req == nil {
			return
		}
		if strings.Count(head, "\r\n\r\n") != 1 {
			t.Fatalf("a head with a blank line inside was taken: %q", head)
		}
		sameAsNetHTTP(t, []byte(head), req)
	})
}
