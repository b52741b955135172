package resources

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFile: a resources file is whatever a user's editor left; reading it must give objects
// or an error naming the file, never a panic.
func FuzzReadFile(f *testing.F) {
	f.Add("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n")
	f.Add("apiVersion: sources.knative.dev/v1\nkind: KafkaSource\nmetadata: {name: s}\nspec: {bootstrapServers: [a], topics: [t], sink: {uri: http://x}}\n")
	f.Add("---\n# only a comment\n---\n")
	f.Add("kind: Trigger\nspec: [")
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kafka-broker-config}\ndata: {a: b}\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := ReadFile(path)
		if err != nil {
			fe, ok := errors.AsType[*FileError](err)
			if !ok || fe.Path != path {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if set == nil {
			t.Fatal("no set and no error")
		}
	})
}
