package kafkasink

import (
	"context"
	"sync"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

// fakeKafka records what the reconciler asks of Kafka and answers as configured.
type fakeKafka struct {
	mu sync.Mutex
	// configured answers
	connectErr error
	ensureErr  error
	existing   map[string]bool
	existsErr  error
	deleteErr  error
	// recorded calls
	Servers       [][]string
	Security      []string // Security.String() of each connection
	Ensured       []kafka.TopicSpec
	Checked       []string
	DeletedTopics []string
}

func (f *fakeKafka) get(servers []string, sec *kafkaconn.Security) (Kafka, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Servers = append(f.Servers, servers)
	f.Security = append(f.Security, sec.String())
	if f.connectErr != nil {
		return nil, f.connectErr
	}
	return f, nil
}

func (f *fakeKafka) EnsureTopic(_ context.Context, spec kafka.TopicSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Ensured = append(f.Ensured, spec)
	return f.ensureErr
}

func (f *fakeKafka) TopicExists(_ context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Checked = append(f.Checked, name)
	return f.existing[name], f.existsErr
}

func (f *fakeKafka) DeleteTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DeletedTopics = append(f.DeletedTopics, name)
	return f.deleteErr
}

// fakeStore records contract writes; Published answers from published.
type fakeStore struct {
	mu        sync.Mutex
	published map[string]uint64
	Set       []contract.Resource
	Deleted   []string
}

func (s *fakeStore) SetResource(r contract.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Set = append(s.Set, r)
}

func (s *fakeStore) DeleteResource(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Deleted = append(s.Deleted, uid)
}

func (s *fakeStore) Published(uid string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.published[uid]
	return g, ok
}

type fakeDataPlane struct {
	status contract.Status
	err    error
}

func (d fakeDataPlane) Status(context.Context) (contract.Status, error) { return d.status, d.err }
