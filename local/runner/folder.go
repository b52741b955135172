package runner

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"knkafka.dev/local/resources"
)

// folder follows the resource files of a directory by their names, sizes and modification
// times, and keeps the last good objects of every file: a file that turns bad keeps serving what
// it held before.
type folder struct {
	dir   string
	files map[string]*fileState
}

type fileState struct {
	size  int64
	mtime time.Time
	// good is the file's last good content; nil when it was never read successfully.
	good *resources.Set
	// err is why the current content could not be read; nil when good is current.
	err error
}

func newFolder(dir string) *folder { return &folder{dir: dir, files: map[string]*fileState{}} }

// scan re-reads the files that were added or changed and forgets removed ones. It returns the
// paths whose content changed (removed ones included) and an error only when the folder itself
// cannot be listed.
func (f *folder) scan() ([]string, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("reading resources folder: %w", err)
	}
	var changed []string
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !resources.IsResourceFile(e.Name()) {
			continue
		}
		path := filepath.Join(f.dir, e.Name())
		info, err := e.Info()
		if err != nil {
			continue // removed since listed; the next scan forgets it
		}
		seen[path] = true
		st, ok := f.files[path]
		if ok && st.size == info.Size() && st.mtime.Equal(info.ModTime()) {
			continue
		}
		if !ok {
			st = &fileState{}
			f.files[path] = st
		}
		st.size, st.mtime = info.Size(), info.ModTime()
		set, err := resources.ReadFile(path)
		if err == nil {
			st.good = set
		}
		st.err = err
		changed = append(changed, path)
	}
	for path := range f.files {
		if !seen[path] {
			delete(f.files, path)
			changed = append(changed, path)
		}
	}
	slices.Sort(changed)
	return changed, nil
}

// set merges the last good content of every file, in path order.
func (f *folder) set() (*resources.Set, error) {
	var parts []*resources.Set
	for _, path := range slices.Sorted(maps.Keys(f.files)) {
		if st := f.files[path]; st.good != nil {
			parts = append(parts, st.good)
		}
	}
	return resources.Merge(parts...)
}

// fileErrors returns the current error of every bad file, by path.
func (f *folder) fileErrors() map[string]error {
	out := map[string]error{}
	for path, st := range f.files {
		if st.err != nil {
			var fe *resources.FileError
			if errors.As(st.err, &fe) {
				out[path] = fe.Err
			} else {
				out[path] = st.err
			}
		}
	}
	return out
}

// origins maps object UIDs to the file holding their last good definition.
func (f *folder) origins() map[string]string {
	out := map[string]string{}
	for path, st := range f.files {
		if st.good == nil {
			continue
		}
		for _, uid := range uids(st.good) {
			out[uid] = path
		}
	}
	return out
}

func uids(s *resources.Set) []string {
	var out []string
	for _, o := range s.Brokers {
		out = append(out, string(o.UID))
	}
	for _, o := range s.Triggers {
		out = append(out, string(o.UID))
	}
	for _, o := range s.Channels {
		out = append(out, string(o.UID))
	}
	for _, o := range s.Subscriptions {
		out = append(out, string(o.UID))
	}
	return out
}
