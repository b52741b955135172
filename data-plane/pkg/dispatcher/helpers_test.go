package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/delivery"
	"knkafka.dev/test/kafkatest"
)

// waitTimeout bounds every wait of these tests; it is generous because the machine is shared.
const waitTimeout = 90 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// received is one request a subscriber got.
type received struct {
	id, typ string
	key     string // partitionkey extension
	part    int    // "part" extension: the partition the test produced to
	seq     int    // "seq" extension: position within its partition or key
	header  http.Header
	event   *event.Event
}

// subscriber is an httptest server recording CloudEvents; handle, when set, decides the answer
// (it may block) and may write a reply.
type subscriber struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	inFlight int
	maxIn    int
	handle   func(w http.ResponseWriter, r received) int
}

func newSubscriber(t *testing.T, handle func(w http.ResponseWriter, r received) int) *subscriber {
	s := &subscriber{handle: handle}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e, err := cehttp.NewEventFromHTTPRequest(req)
		if err != nil {
			t.Errorf("subscriber got a request that is not a CloudEvent: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r := received{id: e.ID(), typ: e.Type(), header: req.Header.Clone(), event: e}
		ext := e.Extensions()
		if v, ok := ext["partitionkey"]; ok {
			r.key = fmt.Sprint(v)
		}
		if v, ok := ext["part"]; ok {
			r.part, _ = strconv.Atoi(fmt.Sprint(v))
		}
		if v, ok := ext["seq"]; ok {
			r.seq, _ = strconv.Atoi(fmt.Sprint(v))
		}
		s.mu.Lock()
		s.inFlight++
		s.maxIn = max(s.maxIn, s.inFlight)
		s.mu.Unlock()
		code := http.StatusAccepted
		if s.handle != nil {
			code = s.handle(w, r)
		}
		s.mu.Lock()
		s.inFlight--
		if code < 300 {
			s.got = append(s.got, r)
		}
		s.mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *subscriber) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *subscriber) maxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// awaitCompany holds a request (bounded) until another one is in flight, until some request
// has seen company once; afterwards it returns at once.
func (s *subscriber) awaitCompany() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		ok := s.maxIn >= 2
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ids returns the set of ids received.
func (s *subscriber) ids() map[string]int {
	out := map[string]int{}
	for _, r := range s.received() {
		out[r.id]++
	}
	return out
}

// newEvent builds a test event; exts are name/value pairs.
func newEvent(id, typ string, exts ...string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/test")
	for i := 0; i+1 < len(exts); i += 2 {
		e.SetExtension(exts[i], exts[i+1])
	}
	_ = e.SetData("application/json", map[string]string{"id": id})
	return &e
}

// producer returns a client that writes to explicit partitions.
func newProducer(t *testing.T, servers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes e to partition of topic and returns the record's offset.
func produce(t *testing.T, cl *kgo.Client, topic string, partition int32, e *event.Event) int64 {
	t.Helper()
	r, err := cekafka.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	r.Topic, r.Partition = topic, partition
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, r)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	return res[0].Record.Offset
}

// produceRaw writes a record that is not a CloudEvent.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, partition int32, value string) {
	t.Helper()
	produceRecord(t, cl, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)})
}

// produceRecord writes r (to its Topic and Partition) and returns its offset.
func produceRecord(t *testing.T, cl *kgo.Client, r *kgo.Record) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, r)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	return res[0].Record.Offset
}

// egressOpt changes a test egress.
type egressOpt func(*contract.Egress)

func withOrder(o contract.DeliveryOrder) egressOpt { return func(e *contract.Egress) { e.Order = o } }
func withMaxInFlight(n int) egressOpt              { return func(e *contract.Egress) { e.MaxInFlight = n } }
func withFilter(f *contract.Filter) egressOpt      { return func(e *contract.Egress) { e.Filter = f } }
func withReply(r contract.Reply) egressOpt         { return func(e *contract.Egress) { e.Reply = r } }
func withDeadLetter(u string) egressOpt            { return func(e *contract.Egress) { e.DeadLetter = u } }
func withDelivery(d contract.Delivery) egressOpt {
	return func(e *contract.Egress) { e.Delivery = d }
}
func withInitialOffset(o contract.InitialOffset) egressOpt {
	return func(e *contract.Egress) { e.InitialOffset = o }
}

// newEgress returns an egress named name with a consumer group unique to the test.
func newEgress(t *testing.T, name, destination string, opts ...egressOpt) contract.Egress {
	e := contract.Egress{
		UID:           "uid-" + name,
		Kind:          contract.KindTrigger,
		Namespace:     "test",
		Name:          name,
		ConsumerGroup: fmt.Sprintf("%s-%s", kafkatest.TopicName(t), name),
		Destination:   destination,
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func newContract(servers []string, topic string, egs ...contract.Egress) *contract.Contract {
	return &contract.Contract{
		SchemaVersion: contract.SchemaVersion,
		Generation:    1,
		Resources: []contract.Resource{{
			UID: "broker-uid", Kind: contract.KindBroker, Namespace: "test", Name: "broker",
			Topic: topic, BootstrapServers: servers, Egresses: egs,
		}},
	}
}

// sourceOf is the event source of a test KafkaSource.
func sourceOf(name string) string { return "/apis/v1/namespaces/test/kafkasources/" + name }

// newSourceContract has one KafkaSource reading topics, with eg as its egress: the egress becomes
// a KafkaSource's, whose UID is the source's. src nil means string keys and no overrides.
func newSourceContract(servers, topics []string, src *contract.Source, eg contract.Egress) *contract.Contract {
	if src == nil {
		src = &contract.Source{EventSource: sourceOf(eg.Name)}
	}
	eg.Kind = contract.KindKafkaSource
	return &contract.Contract{
		SchemaVersion: contract.SchemaVersion,
		Generation:    1,
		Resources: []contract.Resource{{
			UID: eg.UID, Kind: contract.KindKafkaSource, Namespace: "test", Name: eg.Name,
			Topics: topics, Source: src, BootstrapServers: servers, Egresses: []contract.Egress{eg},
		}},
	}
}

// newDispatcher starts a Dispatcher closed at the end of the test.
func newDispatcher(t *testing.T, opts ...Option) *Dispatcher {
	t.Helper()
	logger := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	sender := delivery.NewSender(logger)
	d := New(logger, sender, append([]Option{CommitInterval(100 * time.Millisecond), DrainTimeout(2 * time.Second)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("closing dispatcher: %v", err)
		}
	})
	return d
}

func apply(t *testing.T, d *Dispatcher, c *contract.Contract) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Apply(ctx, c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func waitReady(t *testing.T, d *Dispatcher, uids ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("egresses %v ready", uids), func() bool {
		st := d.Status()
		for _, u := range uids {
			if !st[u].Ready {
				return false
			}
		}
		return true
	})
}

// committed reads the committed offsets of group for topic.
func committed(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

// gatedRecorder is one subscriber for many Triggers, told apart by the path of their URLs: it holds
// every request until the gate closes (bounded by waitTimeout), then records the event's id under
// the path and answers 200 after delay.
type gatedRecorder struct {
	*httptest.Server
	gate    chan struct{}
	stuckIn atomic.Int64
	mu      sync.Mutex
	got     map[string]map[string]bool // path (without the slash) → ids
}

func newGatedRecorder(t *testing.T, delay time.Duration) *gatedRecorder {
	g := &gatedRecorder{gate: make(chan struct{}), got: map[string]map[string]bool{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.stuckIn.Add(1)
		defer g.stuckIn.Add(-1)
		select {
		case <-g.gate:
		case <-time.After(waitTimeout):
			t.Error("the gate stayed closed")
		}
		time.Sleep(delay)
		g.mu.Lock()
		name := strings.TrimPrefix(r.URL.Path, "/")
		if g.got[name] == nil {
			g.got[name] = map[string]bool{}
		}
		g.got[name][r.Header.Get("ce-id")] = true
		g.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(g.Close)
	return g
}

// all says whether each of paths distinct paths received n distinct events.
func (g *gatedRecorder) all(paths, n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.got) < paths {
		return false
	}
	for _, ids := range g.got {
		if len(ids) < n {
			return false
		}
	}
	return true
}
