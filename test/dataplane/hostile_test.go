package dataplane

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"knkafka.dev/data-plane/pkg/ingress"
	"knkafka.dev/test/kafkatest"
)

// rssMiB reads the resident memory of pid from /proc.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// Thousands of connections that never send a request, and thousands that sent one and stay
// idle, cost the ingress process bounded memory, and a well-behaved client is still served at
// once beside them.
func TestIngressStaysServingBesideThousandsOfIdleConnections(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	file := filepath.Join(t.TempDir(), "contract.json")
	writeContract(t, file, brokerContract(1, servers, topic, "http://127.0.0.1:1"))
	p := start(t, "ingress", file)
	p.WaitReady(t, 1, []string{"broker-uid"}, nil)
	before := rssMiB(t, p.Pid())

	const silent, idle = 3000, 3000
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range silent {
		c, err := net.DialTimeout("tcp", p.Ingress, 5*time.Second)
		if err != nil {
			t.Fatalf("dialing silent connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	keepAlive := &http.Transport{MaxIdleConnsPerHost: idle, MaxConnsPerHost: idle}
	t.Cleanup(keepAlive.CloseIdleConnections)
	client := &http.Client{Transport: keepAlive, Timeout: 10 * time.Second}
	errs := make(chan error, idle)
	for range idle {
		go func() {
			resp, err := client.Get("http://" + p.Ingress + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	failed := 0
	for range idle {
		if err := <-errs; err != nil {
			failed++
		}
	}
	t.Logf("%d silent and %d keep-alive connections opened (%d keep-alive requests failed: evicted past the connection bound)", silent, idle, failed)

	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.Ingress+"/default/default", bytes.NewBufferString(`{"n":1}`))
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "beside-the-crowd", "Ce-Source": "/t", "Ce-Type": "t", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("a well-behaved client beside the crowd: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("a well-behaved client beside the crowd got %d, want 202", resp.StatusCode)
	}
	after := rssMiB(t, p.Pid())
	open := openSockets(t, p.Pid())
	t.Logf("ingress: %d sockets open, RSS %.1f MiB before and %.1f MiB with the crowd (a -race build: "+
		"several times a plain build's); the request beside it took %s", open, before, after, time.Since(start))
	// Memory follows the connections held: at most ingress.DefaultMaxConns of them (each a
	// goroutine and two 4 KiB buffers), plus the process's own sockets.
	if limit := ingress.DefaultMaxConns + 64; open > limit {
		t.Errorf("the ingress holds %d sockets for %d connections, want at most %d", open, silent+idle, limit)
	}
}

// openSockets counts the sockets pid holds.
func openSockets(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}
