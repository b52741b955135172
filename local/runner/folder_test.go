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
	f.grace = 0 // removals take effect at once here; TestFolderWaitsOutAnEmptyOrVanishedFile covers the grace

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

// An editor that truncates and rewrites, or renames a new file over the old one, leaves a scan
// that sees the file empty or gone. That must not delete its Broker (and with it the topic and
// its backlog) unless the file stays so for the grace period.
func TestFolderWaitsOutAnEmptyOrVanishedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.yaml")
	base := time.Now().Add(-time.Hour)
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	brokers := func(f *folder) int {
		set, err := f.set()
		if err != nil {
			t.Fatal(err)
		}
		return len(set.Brokers)
	}
	f := newFolder(dir)
	f.grace = 300 * time.Millisecond
	write(broker, base)
	if _, err := f.scan(); err != nil || brokers(f) != 1 {
		t.Fatalf("first scan: %v, %d brokers", err, brokers(f))
	}

	// Truncated mid-save, then rewritten: the broker never goes away.
	write("", base.Add(time.Second))
	if changed, _ := f.scan(); len(changed) != 0 || brokers(f) != 1 {
		t.Fatalf("an empty file for one scan: changed %v, %d brokers; want nothing changed", changed, brokers(f))
	}
	write(broker, base.Add(2*time.Second))
	if _, _ = f.scan(); brokers(f) != 1 {
		t.Fatalf("after the rewrite: %d brokers", brokers(f))
	}

	// Renamed away for one scan, then back.
	if err := os.Rename(path, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	if changed, _ := f.scan(); len(changed) != 0 || brokers(f) != 1 {
		t.Fatalf("a vanished file for one scan: changed %v, %d brokers; want nothing changed", changed, brokers(f))
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	if _, _ = f.scan(); brokers(f) != 1 {
		t.Fatalf("after the file came back: %d brokers", brokers(f))
	}

	// Emptied for good: deleted once the grace period is over.
	write("", base.Add(3*time.Second))
	_, _ = f.scan()
	time.Sleep(f.grace + 50*time.Millisecond)
	if changed, _ := f.scan(); !cmp.Equal(changed, []string{path}) || brokers(f) != 0 {
		t.Fatalf("a file empty past the grace: changed %v, %d brokers; want it deleted", changed, brokers(f))
	}
	// Removed for good: likewise.
	write(broker, base.Add(4*time.Second))
	_, _ = f.scan()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, _ = f.scan()
	if brokers(f) != 1 {
		t.Fatal("a removal took effect before the grace period")
	}
	time.Sleep(f.grace + 50*time.Millisecond)
	if changed, _ := f.scan(); !cmp.Equal(changed, []string{path}) || brokers(f) != 0 {
		t.Fatalf("a file gone past the grace: changed %v, %d brokers; want it deleted", changed, brokers(f))
	}
}
