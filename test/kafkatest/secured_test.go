package kafkatest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecuredMaterial checks what NewSecured hands to hack/kafka.sh without starting Kafka: the
// broker's keystore verifies for 127.0.0.1 and localhost under CA (and under nothing else), the
// other-host keystore names only OtherHostName, the client certificates chain to their own CA
// for client authentication, and the users files are in the script's form.
func TestSecuredMaterial(t *testing.T) {
	s, in, err := newSecuredMaterial(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(in, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pool := func(ca *CA) *x509.CertPool {
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(ca.CertPEM) {
			t.Fatal("CA certificate does not parse")
		}
		return p
	}
	// keystore reads a PEM keystore as Kafka does: a PKCS #8 key and the certificate it belongs to.
	keystore := func(name string) *x509.Certificate {
		b := read(name)
		if k, _ := pem.Decode(b); k == nil || k.Type != "PRIVATE KEY" {
			t.Fatalf("%s does not start with an unencrypted PKCS #8 key", name)
		}
		pair, err := tls.X509KeyPair(b, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return pair.Leaf
	}
	verify := func(cert *x509.Certificate, ca *CA, host string, usage x509.ExtKeyUsage) error {
		_, err := cert.Verify(x509.VerifyOptions{Roots: pool(ca), DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	server := x509.ExtKeyUsageServerAuth

	broker := keystore("broker.pem")
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := verify(broker, s.CA, host, server); err != nil {
			t.Errorf("broker certificate for %s: %v", host, err)
		}
	}
	if verify(broker, s.OtherCA, "127.0.0.1", server) == nil {
		t.Error("the broker certificate verifies under the unrelated CA")
	}
	other := keystore("other-host.pem")
	if err := verify(other, s.CA, OtherHostName, server); err != nil {
		t.Errorf("other-host certificate for %s: %v", OtherHostName, err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if verify(other, s.CA, host, server) == nil {
			t.Errorf("the other-host certificate verifies for %s", host)
		}
	}
	if string(read("ca.crt")) != string(s.CA.CertPEM) {
		t.Error("ca.crt is not the CA's certificate")
	}

	for _, c := range []struct {
		name         string
		leaf         Leaf
		ca, stranger *CA
	}{{"Client", s.Client, s.CA, s.OtherCA}, {"OtherClient", s.OtherClient, s.OtherCA, s.CA}} {
		pair, err := tls.X509KeyPair(c.leaf.CertPEM, c.leaf.KeyPEM)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := verify(pair.Leaf, c.ca, "", x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("%s under its CA: %v", c.name, err)
		}
		if verify(pair.Leaf, c.stranger, "", x509.ExtKeyUsageClientAuth) == nil {
			t.Errorf("%s verifies under the other CA", c.name)
		}
	}

	for name, want := range map[string]string{
		"plain.users": s.PlainUser + " " + s.PlainPassword + "\n",
		"scram.users": s.ScramUser + " " + s.ScramPassword + "\n",
	} {
		if got := string(read(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if s.PlainPassword == s.ScramPassword || len(s.PlainPassword) != 24 {
		t.Errorf("passwords %q and %q: want two different random ones", s.PlainPassword, s.ScramPassword)
	}
}

// TestSecuredStartRefusesIncompleteDirectories: hack/kafka.sh start --secured checks its
// directory before it starts anything, and says what is wrong.
func TestSecuredStartRefusesIncompleteDirectories(t *testing.T) {
	_, complete, err := newSecuredMaterial(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(dir string) error
		want   string
	}{
		{"no broker keystore", func(dir string) error { return os.Remove(filepath.Join(dir, "broker.pem")) },
			"broker.pem is missing"},
		{"an encrypted broker key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "broker.pem"), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), 0o600)
		}, "no unencrypted PKCS #8 key"},
		{"a PLAIN password the JAAS file would have to quote", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "plain.users"), []byte("alice pass\"word\n"), 0o600)
		}, "plain.users must be NAME PASSWORD"},
		{"a SCRAM user line without a password", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "scram.users"), []byte("bob\n"), 0o600)
		}, "scram.users must be NAME PASSWORD"},
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(complete)); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(dir); err != nil {
				t.Fatal(err)
			}
			run := filepath.Join(t.TempDir(), "kafka")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "kafka.sh"), "start", "--secured", dir)
			cmd.Env = append(os.Environ(), "KNKAFKA_KAFKA_RUN="+run)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("hack/kafka.sh start --secured accepted the directory:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
			if _, err := os.Stat(run); !os.IsNotExist(err) {
				t.Errorf("the refused start created its run directory (%v)", err)
			}
		})
	}
}

// TestSecuredFailsLoudlyWithoutJava: without a JDK, NewSecured returns an error that names
// Java, rather than a cluster or a test that skips.
func TestSecuredFailsLoudlyWithoutJava(t *testing.T) {
	t.Setenv("KAFKA_JAVA", filepath.Join(t.TempDir(), "no-such-java"))
	s, err := NewSecured(t.TempDir())
	if err == nil {
		_ = s.Stop()
		t.Fatal("NewSecured started a cluster without Java")
	}
	if !strings.Contains(err.Error(), "java") {
		t.Errorf("the error does not name Java: %v", err)
	}
}
