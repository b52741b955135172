package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// envKn names the kn binary the tests drive; hack/kn.sh build prints it and make test exports it.
const envKn = "KN_BINARY"

// knTimeout bounds one kn command.
const knTimeout = time.Minute

// knCLI runs the real Knative CLI, as a user would, against the suite's apiserver.
type knCLI struct {
	binary string
	// kubeconfig is written from the suite's REST config; home is an empty HOME, so no kn config
	// or plugin of the developer's is read.
	kubeconfig, home string
}

// useKn returns a kn for t, failing t with instructions when KN_BINARY is not a kn binary.
func useKn(t *testing.T, s *suite) *knCLI {
	t.Helper()
	bin := os.Getenv(envKn)
	if bin == "" {
		t.Fatalf("this test drives the real kn CLI and %s is not set.\n"+
			"Run the tests with `make test`, or build kn with `eval \"$(hack/kn.sh build)\"; export %s`.", envKn, envKn)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable (%v); rebuild it with `eval \"$(hack/kn.sh build)\"; export %s`", envKn, bin, err, envKn)
	}
	dir := t.TempDir()
	k := &knCLI{binary: bin, kubeconfig: filepath.Join(dir, "kubeconfig"), home: filepath.Join(dir, "home")}
	if err := os.Mkdir(k.home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeKubeconfig(s.cluster.Config(), k.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKubeconfig writes a kubeconfig file with cfg's server and credentials.
func writeKubeconfig(cfg *rest.Config, path string) error {
	const name = "e2e"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientCertificate:     cfg.CertFile,
		ClientKeyData:         cfg.KeyData,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing the kubeconfig for kn: %w", err)
	}
	return nil
}

// run runs `kn args...` and returns what it printed; it fails t, showing both outputs, unless kn
// exits 0 within knTimeout.
func (k *knCLI) run(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := k.try(args...)
	if err != nil {
		t.Fatalf("kn %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	t.Logf("kn %s:\n%s", strings.Join(args, " "), stdout)
	return stdout, stderr
}

// try runs `kn args...` and returns what it printed and, unless kn exited 0 within knTimeout, why.
func (k *knCLI) try(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), knTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.binary, append(args, "--kubeconfig", k.kubeconfig)...)
	cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH"), "KUBECONFIG=" + k.kubeconfig}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("did not finish within %s: %w", knTimeout, ctx.Err())
	} else if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		err = fmt.Errorf("exited with %d", ee.ExitCode())
	}
	return out.String(), errOut.String(), err
}

// knTable parses the table kn prints for a list command: one map per row, keyed by the header's
// column names. kn's printer pads columns with at least two spaces and aligns them (in runes, as
// its tabwriter counts them), so a column starts where a header name follows two spaces; a name
// may hold single spaces ("DEAD LETTER SINK"), and only the last column's cells may hold spaces.
func knTable(out string) ([]map[string]string, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := []rune(lines[0])
	var starts []int
	for i, r := range header {
		if r != ' ' && (i == 0 || (i >= 2 && header[i-1] == ' ' && header[i-2] == ' ')) {
			starts = append(starts, i)
		}
	}
	if len(starts) == 0 {
		return nil, fmt.Errorf("no header line in %q", out)
	}
	cell := func(line []rune, c int) string {
		start, end := starts[c], len(line)
		if c+1 < len(starts) {
			end = min(end, starts[c+1])
		}
		if start >= end {
			return ""
		}
		return strings.TrimSpace(string(line[start:end]))
	}
	var rows []map[string]string
	for _, line := range lines[1:] {
		row := map[string]string{}
		for c := range starts {
			row[cell(header, c)] = cell([]rune(line), c)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// TestKnTable reads kn's tables as kn v0.48 prints them: names with spaces in the header, empty
// cells, a multi-byte cell before later columns, spaces in the last column.
func TestKnTable(t *testing.T) {
	out := "NAME    CHANNEL             SUBSCRIBER               REPLY   DEAD LETTER SINK   READY   REASON\n" +
		"sub01   KafkaChannel:kc01   http://127.0.0.1:43065                              True    \n" +
		"s       ✓                   x                        r       d                  False   Not ready yet\n"
	got, err := knTable(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"NAME": "sub01", "CHANNEL": "KafkaChannel:kc01", "SUBSCRIBER": "http://127.0.0.1:43065", "REPLY": "", "DEAD LETTER SINK": "", "READY": "True", "REASON": ""},
		{"NAME": "s", "CHANNEL": "✓", "SUBSCRIBER": "x", "REPLY": "r", "DEAD LETTER SINK": "d", "READY": "False", "REASON": "Not ready yet"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("knTable (-want +got):\n%s", diff)
	}
}
