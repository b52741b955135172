// Package dataplanetest runs a whole data plane — ingress and dispatcher — inside a test's
// process, fed contracts by the test and Secrets from a kafkaauth.Source of its choosing, and
// waits for what its Status reports. It is for tests only.
package dataplanetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/contractsource"
	"knkafka.dev/data-plane/pkg/dataplane"
	"knkafka.dev/data-plane/pkg/kafkaauth"
	"knkafka.dev/kafkaconn"
)

// Harness is a running data plane and what a test needs to reach it.
type Harness struct {
	Server *dataplane.Server
	// IngressURL and AdminURL are "http://host:port" of the ingress and of the admin server
	// (status, metrics).
	IngressURL, AdminURL string
	// Logs holds everything the data plane logged, as JSON lines, down to debug.
	Logs *Buffer

	contracts chan *contract.Contract
}

// Start runs a data plane with both roles on free loopback ports, its Secrets from secrets, and
// stops it when t ends, failing t unless it stops cleanly within a minute. Its consumer groups
// use a 6 s session timeout so that moved partitions move quickly.
func Start(t testing.TB, secrets kafkaauth.Source) *Harness {
	t.Helper()
	h := &Harness{Logs: &Buffer{}, contracts: make(chan *contract.Contract, 1)}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(h.Logs), zap.DebugLevel))
	ingressAddr, adminAddr := loopbackAddr(t), loopbackAddr(t)
	s, err := dataplane.New(dataplane.Config{
		Ingress: true, Dispatcher: true, IngressAddr: ingressAddr, AdminAddr: adminAddr,
		Source: contractChan(h.contracts), Secrets: secrets, Logger: logger, SessionTimeout: 6 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Server, h.IngressURL, h.AdminURL = s, "http://"+ingressAddr, "http://"+adminAddr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("the data plane did not stop within a minute")
		}
	})
	return h
}

// Apply hands c to the data plane; Status tells what it serves.
func (h *Harness) Apply(c *contract.Contract) { h.contracts <- c }

// contractChan is a contract source that applies the contracts sent on it.
type contractChan chan *contract.Contract

func (c contractChan) Run(ctx context.Context, apply contractsource.ApplyFunc) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ct := <-c:
			_ = apply(ctx, ct) // Status tells what is served
		}
	}
}

// Check reports whether a status is as expected, and what it is.
type Check func(contract.Status) (bool, string)

// IngressIs and EgressIs expect the reason of a resource's ingress or of an egress; "" means
// Ready.
func IngressIs(uid string, reason kafkaconn.Reason) Check {
	return func(st contract.Status) (bool, string) {
		s := st.Ingresses[uid]
		return s.Ready == (reason == "") && s.Reason == string(reason), fmt.Sprintf("ingress %s: %+v, want reason %q", uid, s, reason)
	}
}

// EgressIs is IngressIs for an egress.
func EgressIs(uid string, reason kafkaconn.Reason) Check {
	return func(st contract.Status) (bool, string) {
		s := st.Egresses[uid]
		return s.Ready == (reason == "") && s.Reason == string(reason), fmt.Sprintf("egress %s: %+v, want reason %q", uid, s, reason)
	}
}

// WaitStatus waits, at most within, until every check holds for s's Status, and fails t with
// those that do not otherwise.
func WaitStatus(t testing.TB, s *dataplane.Server, within time.Duration, what string, checks ...Check) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var failed []string
		st := s.Status()
		for _, c := range checks {
			if ok, desc := c(st); !ok {
				failed = append(failed, desc)
			}
		}
		if len(failed) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s:\n%s", what, within, strings.Join(failed, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Buffer is a log destination that may be read while the data plane writes to it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func loopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
