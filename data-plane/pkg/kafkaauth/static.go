package kafkaauth

import (
	"context"
	"maps"
	"sync"
)

// Static is a Source holding Secrets it is given: tests set them directly, local mode from the
// Secret files of its folder. It is safe for concurrent use.
type Static struct {
	mu      sync.Mutex
	secrets map[Ref]map[string][]byte
	changes chan struct{}
}

// NewStatic returns a Static holding secrets (copied); nil for none.
func NewStatic(secrets map[Ref]map[string][]byte) *Static {
	s := &Static{secrets: map[Ref]map[string][]byte{}, changes: make(chan struct{}, 1)}
	for ref, data := range secrets {
		s.secrets[ref] = maps.Clone(data)
	}
	return s
}

// Secret returns the data of namespace/name.
func (s *Static) Secret(namespace, name string) (map[string][]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.secrets[Ref{Namespace: namespace, Name: name}]
	return data, ok
}

// Set makes data (copied) the data of ref, signalling Changes when it differs from before.
func (s *Static) Set(ref Ref, data map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.secrets[ref]; ok && equalData(old, data) {
		return
	}
	s.secrets[ref] = maps.Clone(data)
	s.signal()
}

// Delete removes ref, signalling Changes when it existed.
func (s *Static) Delete(ref Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[ref]; !ok {
		return
	}
	delete(s.secrets, ref)
	s.signal()
}

// Replace makes secrets (copied) all the Secrets s holds, signalling Changes when any was
// added, changed or removed.
func (s *Static) Replace(secrets map[Ref]map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maps.EqualFunc(s.secrets, secrets, equalData) {
		return
	}
	s.secrets = make(map[Ref]map[string][]byte, len(secrets))
	for ref, data := range secrets {
		s.secrets[ref] = maps.Clone(data)
	}
	s.signal()
}

// Follow does nothing: a Static holds every Secret it was given.
func (s *Static) Follow(context.Context, []Ref) error { return nil }

// Changes receives a value after Set, Delete or Replace changed something.
func (s *Static) Changes() <-chan struct{} { return s.changes }

func (s *Static) signal() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

func equalData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}
