package kafkatest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a private real Kafka cluster started by hack/kafka.sh for one test, which may stop
// and restart its nodes. It is stopped and its data removed when the test ends.
type Cluster struct {
	// Servers are the bootstrap servers.
	Servers []string
	script  string
	env     []string
}

// StartCluster starts a real Kafka cluster of nodes (1 or 3) with its own data directory.
func StartCluster(t testing.TB, nodes int) *Cluster {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{
		script: filepath.Join(root, "hack", "kafka.sh"),
		env:    append(os.Environ(), "KNKAFKA_KAFKA_RUN="+t.TempDir()),
	}
	out, err := c.run("start", "--nodes", strconv.Itoa(nodes))
	if err != nil {
		t.Fatalf("starting a private Kafka cluster with hack/kafka.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := c.run("stop"); err != nil {
			t.Errorf("stopping the private Kafka cluster: %v\n%s", err, out)
		}
	})
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), EnvBootstrap+"="); ok {
			c.Servers = strings.Split(v, ",")
		}
	}
	if len(c.Servers) == 0 {
		t.Fatalf("hack/kafka.sh start printed no bootstrap address:\n%s", out)
	}
	if err := WaitReady(context.Background(), c.Servers, 90*time.Second); err != nil {
		t.Fatalf("private Kafka cluster: %v", err)
	}
	return c
}

// KillNode stops node n (from 1) with SIGKILL and waits until it is gone.
func (c *Cluster) KillNode(t testing.TB, n int) {
	t.Helper()
	if out, err := c.run("kill-node", strconv.Itoa(n)); err != nil {
		t.Fatalf("killing Kafka node %d: %v\n%s", n, err, out)
	}
}

// StartNode starts node n again and waits until the cluster answers.
func (c *Cluster) StartNode(t testing.TB, n int) {
	t.Helper()
	if out, err := c.run("start-node", strconv.Itoa(n)); err != nil {
		t.Fatalf("starting Kafka node %d: %v\n%s", n, err, out)
	}
	if err := WaitReady(context.Background(), c.Servers, 90*time.Second); err != nil {
		t.Fatalf("Kafka node %d after restart: %v", n, err)
	}
}

func (c *Cluster) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, args...)...)
	cmd.Env = c.env
	return cmd.CombinedOutput()
}

// RepoRoot finds the module root by walking up from the working directory to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
