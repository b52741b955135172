package kafkachannel

import (
	"context"
	"sync"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

// topicConfigCall is one UpdateTopicConfig call.
type topicConfigCall struct {
	Topic   string
	Configs map[string]string
}

// fakeKafka records what the reconciler asks of Kafka and answers as configured.
type fakeKafka struct {
	mu sync.Mutex
	// configured answers
	connectErr    error
	ensureErr     error
	configChanged bool
	configErr     error
	deleteErr     error
	deleteGroups  error
	// recorded calls
	Servers       [][]string
	Security      []string // Security.String() of each connection
	Ensured       []kafka.TopicSpec
	Configured    []topicConfigCall
	DeletedTopics []string
	DeletedGroups [][]string
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

func (f *fakeKafka) UpdateTopicConfig(_ context.Context, topic string, configs map[string]string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Configured = append(f.Configured, topicConfigCall{Topic: topic, Configs: configs})
	return f.configChanged, f.configErr
}

func (f *fakeKafka) DeleteTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DeletedTopics = append(f.DeletedTopics, name)
	return f.deleteErr
}

func (f *fakeKafka) DeleteConsumerGroups(_ context.Context, groups ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DeletedGroups = append(f.DeletedGroups, groups)
	return f.deleteGroups
}

// setEgress is one SetEgress call.
type setEgress struct {
	ResourceUID string
	Egress      contract.Egress
}

// fakeStore records contract writes; Published answers from published.
type fakeStore struct {
	mu               sync.Mutex
	published        map[string]uint64
	Resources        []contract.Resource
	Egresses         []setEgress
	DeletedResources []string
	DeletedEgresses  [][2]string
}

func (s *fakeStore) SetResource(r contract.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Resources = append(s.Resources, r)
}

func (s *fakeStore) DeleteResource(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.DeletedResources = append(s.DeletedResources, uid)
}

func (s *fakeStore) SetEgress(resourceUID string, e contract.Egress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Egresses = append(s.Egresses, setEgress{resourceUID, e})
}

func (s *fakeStore) DeleteEgress(resourceUID, egressUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.DeletedEgresses = append(s.DeletedEgresses, [2]string{resourceUID, egressUID})
}

func (s *fakeStore) Published(uid string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.published[uid]
	return g, ok
}

// fakeDataPlane answers Status with status and err; a test may change them between reconciles.
type fakeDataPlane struct {
	mu     sync.Mutex
	status contract.Status
	err    error
}

func (d *fakeDataPlane) Status(context.Context) (contract.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status, d.err
}

func (d *fakeDataPlane) set(status contract.Status, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status, d.err = status, err
}
