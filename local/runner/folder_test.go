package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFolderKeepsTheLastGoodVersionOfABadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.yaml")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, whatever the file system's resolution.
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	names := func(f *folder) []string {
		set, err := f.set()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range set.Brokers {
			out = append(out, b.Name)
		}
		return out
	}
	f := newFolder(dir)

	write(broker, base)
	if changed, err := f.scan(); err != nil || !cmp.Equal(changed, []string{path}) {
		t.Fatalf("first scan: changed %v, err %v", changed, err)
	}
	if changed, _ := f.scan(); len(changed) != 0 {
		t.Errorf("an unchanged folder reported %v", changed)
	}

	write("kind: Broker\nspec: [", base.Add(time.Second))
	if changed, _ := f.scan(); !cmp.Equal(changed, []string{path}) {
		t.Errorf("a bad edit reported %v", changed)
	}
	if got := names(f); !cmp.Equal(got, []string{"default"}) {
		t.Errorf("brokers %v after a bad edit, want the last good [default]", got)
	}
	if errs := f.fileErrors(); errs[path] == nil {
		t.Errorf("file errors %v, want one for %s", errs, path)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, _ := f.scan(); !cmp.Equal(changed, []string{path}) {
		t.Errorf("a removal reported %v", changed)
	}
	if got := names(f); len(got) != 0 || len(f.fileErrors()) != 0 {
		t.Errorf("brokers %v, errors %v after the removal, want none", got, f.fileErrors())
	}
}
