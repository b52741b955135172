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
//
// A file that vanishes, or reads empty, is not a deletion at once: editors save by truncating
// and rewriting, or by renaming a new file over the old one, and a scan between the two steps
// would otherwise delete the file's Brokers — and their topics and backlog. Its objects are kept
// until it has stayed gone or empty for the grace period.
type folder struct {
	dir   string
	grace time.Duration
	files map[string]*fileState
}

// deletionGrace is how long a file must stay gone or empty before its objects are deleted.
const deletionGrace = 2 * time.Second

type fileState struct {
	size  int64
	mtime time.Time
	// good is the file's last good content; nil when it was never read successfully.
	good *resources.Set
	// err is why the current content could not be read; nil when good is current.
	err error
	// goneSince is when the file was first seen gone or empty while good still held objects;
	// zero otherwise.
	goneSince time.Time
}

func newFolder(dir string) *folder {
	return &folder{dir: dir, grace: deletionGrace, files: map[string]*fileState{}}
}

// vanishing reports whether st's objects should still be kept although the file is gone or
// empty now, starting its grace period on the first sighting.
func (f *folder) vanishing(st *fileState, now time.Time) bool {
	if st.good == nil || st.good.Empty() {
		return false
	}
	if st.goneSince.IsZero() {
		st.goneSince = now
	}
	return now.Sub(st.goneSince) < f.grace
}

// scan re-reads the files that were added or changed and forgets removed ones. It returns the
// paths whose content changed (removed ones included) and an error only when the folder itself
// cannot be listed.
func (f *folder) scan() ([]string, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("reading resources folder: %w", err)
	}
	now := time.Now()
	var changed []string
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !resources.IsResourceFile(e.Name()) {
			continue
		}
		path := filepath.Join(f.dir, e.Name())
		info, err := e.Info()
		if err != nil {
			continue // removed since listed; treated as gone below
		}
		seen[path] = true
		if f.rescan(path, info, now) {
			changed = append(changed, path)
		}
	}
	for path, st := range f.files {
		if seen[path] || f.vanishing(st, now) {
			continue
		}
		delete(f.files, path)
		changed = append(changed, path)
	}
	slices.Sort(changed)
	return changed, nil
}

// rescan reads path again when it changed, or when it is empty and its grace period may have
// ended, and reports whether the objects it contributes changed.
func (f *folder) rescan(path string, info os.FileInfo, now time.Time) bool {
	st, ok := f.files[path]
	if ok && st.size == info.Size() && st.mtime.Equal(info.ModTime()) && st.goneSince.IsZero() {
		return false
	}
	if !ok {
		st = &fileState{}
		f.files[path] = st
	}
	st.size, st.mtime = info.Size(), info.ModTime()
	set, err := resources.ReadFile(path)
	switch {
	case err == nil && set.Empty() && f.vanishing(st, now):
		return false // keep the last good objects a little longer
	case err == nil:
		st.good = set
	}
	st.err, st.goneSince = err, time.Time{}
	return true
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
	for _, o := range s.Sources {
		out = append(out, string(o.UID))
	}
	return out
}
