package trigger

import (
	"context"
	"sync"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/broker"
	"knkafka.dev/kafkaconn"
)

// fakeKafka records consumer-group deletions and fails them as configured.
type fakeKafka struct {
	mu            sync.Mutex
	deleteGroups  error
	DeletedGroups [][]string
	Security      []string // Security.String() of each connection
}

func (f *fakeKafka) get(_ []string, sec *kafkaconn.Security) (broker.Kafka, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Security = append(f.Security, sec.String())
	return f, nil
}

func (f *fakeKafka) EnsureTopic(context.Context, kafka.TopicSpec) error { return nil }

func (f *fakeKafka) TopicExists(context.Context, string) (bool, error) { return true, nil }

func (f *fakeKafka) DeleteTopic(context.Context, string) error { return nil }

func (f *fakeKafka) DeleteConsumerGroups(_ context.Context, groups ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DeletedGroups = append(f.DeletedGroups, groups)
	return f.deleteGroups
}

type setEgress struct {
	ResourceUID string
	Egress      contract.Egress
}

// fakeStore records contract writes; Published answers from published.
type fakeStore struct {
	mu        sync.Mutex
	published map[string]uint64
	Set       []setEgress
	Deleted   [][2]string
}

func (s *fakeStore) SetEgress(resourceUID string, e contract.Egress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Set = append(s.Set, setEgress{resourceUID, e})
}

func (s *fakeStore) DeleteEgress(resourceUID, egressUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Deleted = append(s.Deleted, [2]string{resourceUID, egressUID})
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
