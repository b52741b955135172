package kafkatest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
	c, err := NewCluster(nodes, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// NewCluster starts a real Kafka cluster of nodes (1 or 3) whose config, data and logs live in
// dir, outside any one test: a package whose tests share an expensive three-node cluster starts it
// once and calls Stop from its TestMain. Tests use StartCluster.
func NewCluster(nodes int, dir string) (*Cluster, error) {
	c, _, err := startCluster(dir, "--nodes", strconv.Itoa(nodes))
	return c, err
}

// startCluster runs `hack/kafka.sh start ARGS...` with its run directory in dir, waits until the
// PLAINTEXT listener answers, and returns the cluster with what the script printed.
func startCluster(dir string, args ...string) (*Cluster, []byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	c := &Cluster{
		script: filepath.Join(root, "hack", "kafka.sh"),
		env:    append(os.Environ(), "KNKAFKA_KAFKA_RUN="+dir),
	}
	out, err := c.run(append([]string{"start"}, args...)...)
	if err != nil && bytes.Contains(out, []byte("exited during start-up")) {
		// A node that dies at once is most often one that lost its port: the script picks free
		// ports before the JVM binds them, and on a busy machine another process can take one in
		// between. Start once more, on new ports.
		_ = c.Stop()
		var again []byte
		again, err = c.run(append([]string{"start"}, args...)...)
		out = append(append(out, "[kafkatest] started again after a node exited during start-up\n"...), again...)
	}
	if err != nil {
		// The script stops what it started when start-up fails; a timeout kills it first.
		_ = c.Stop()
		return nil, out, fmt.Errorf("starting a private Kafka cluster with hack/kafka.sh: %w\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), EnvBootstrap+"="); ok {
			c.Servers = strings.Split(v, ",")
		}
	}
	if len(c.Servers) == 0 {
		_ = c.Stop()
		return nil, out, fmt.Errorf("hack/kafka.sh start printed no bootstrap address:\n%s", out)
	}
	if err := WaitReady(context.Background(), c.Servers, 90*time.Second); err != nil {
		_ = c.Stop()
		return nil, out, fmt.Errorf("private Kafka cluster: %w", err)
	}
	return c, out, nil
}

// Stop stops every node of the cluster and removes its data.
func (c *Cluster) Stop() error {
	if out, err := c.run("stop"); err != nil {
		return fmt.Errorf("stopping the private Kafka cluster: %w\n%s", err, out)
	}
	return nil
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
	c.StartNodes(t, n)
}

// StartNodes starts the given nodes again, then waits until the cluster answers: restarting a
// whole cluster needs a quorum of its controllers up before any of them answers.
func (c *Cluster) StartNodes(t testing.TB, nodes ...int) {
	t.Helper()
	for _, n := range nodes {
		if out, err := c.run("start-node", strconv.Itoa(n)); err != nil {
			t.Fatalf("starting Kafka node %d: %v\n%s", n, err, out)
		}
	}
	if err := WaitReady(context.Background(), c.Servers, 90*time.Second); err != nil {
		t.Fatalf("Kafka nodes %v after restart: %v", nodes, err)
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
