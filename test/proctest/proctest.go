// Package proctest helps tests that run our binaries as processes, the way users run them:
// Main builds a binary once per test binary, FreeAddr picks a loopback address to serve on, and
// StartDataPlane runs knkafka-dataplane on a contract file (WriteContract) as a DataPlane a test
// may kill, restart on the same addresses, stop, and ask for its status.
package proctest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"knkafka.dev/test/kafkatest"
)

// Main builds the main package pkg (relative to the module root, e.g. "./cmd/knkafka") with
// -race into a temporary directory, stores its path in *binary, runs the tests and removes the
// directory. A failed build ends the test binary with exit code 1. after, if any, run once the
// tests are done (a package's shared Kafka cluster is stopped there).
func Main(m *testing.M, pkg string, binary *string, after ...func()) {
	dir, err := os.MkdirTemp("", "knkafka-proctest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = filepath.Join(dir, filepath.Base(pkg))
	if err := build(pkg, *binary); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	for _, f := range after {
		f()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(pkg, out string) error {
	root, err := kafkatest.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-race", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
