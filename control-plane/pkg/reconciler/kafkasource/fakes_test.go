package kafkasource

import (
	"context"
	"sync"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

// fakeKafka records the security of each connection and answers Ping with pingErr.
type fakeKafka struct {
	mu       sync.Mutex
	pingErr  error
	Security []string // Security.String() of each connection
}

func (f *fakeKafka) get(_ []string, sec *kafkaconn.Security) (Kafka, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Security = append(f.Security, sec.String())
	return f, nil
}

func (f *fakeKafka) Ping(context.Context) error { return f.pingErr }

type setEgress struct {
	ResourceUID string
	Egress      contract.Egress
}

// fakeStore records contract writes; Published answers from published.
type fakeStore struct {
	mu        sync.Mutex
	published map[string]uint64
	Resources []contract.Resource
	Egresses  []setEgress
	Deleted   []string
}

func (s *fakeStore) SetResource(r contract.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Resources = append(s.Resources, r)
}

func (s *fakeStore) SetEgress(resourceUID string, e contract.Egress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Egresses = append(s.Egresses, setEgress{resourceUID, e})
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
