package h1server

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scriptConn is a connection whose peer wrote script and reads nothing back.
type scriptConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkServePlain is the plain path's cost per request, system calls aside: b.N pipelined
// binary-mode events with 1 KiB bodies on one connection, each read by the handler and answered
// 202.
func BenchmarkServePlain(b *testing.B) {
	req := "POST /ns/broker HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\n" +
		"Content-Length: 1024\r\nCe-Id: 12345\r\nCe-Source: /bench\r\nCe-Specversion: 1.0\r\n" +
		"Ce-Type: dev.knkafka.bench\r\nContent-Type: application/octet-stream\r\n\r\n" + strings.Repeat("x", 1024)
	script := []byte(strings.Repeat(req, b.N))
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})}
	s.init()
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	c := &conn{srv: s, rw: &scriptConn{r: bytes.NewReader(script)}}
	s.track(c)
	c.serve()
}
