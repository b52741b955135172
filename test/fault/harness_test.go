package fault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/test/kafkatest"
)

// load is what a load generator sends: Events CloudEvents with ids "<Prefix>-0".. through the
// ingress at URL, at Rate events per second overall (0: as fast as Workers allow).
type load struct {
	URL     string
	Events  int
	Rate    float64
	Workers int
	Prefix  string
	// GiveUp bounds how long one id is retried (default 3 minutes).
	GiveUp time.Duration
}

// answer is one HTTP exchange of the load generator; code 0 is a connection error.
type answer struct {
	start, end time.Time
	code       int
}

// ledger is the client's side of the count: every id it sent and every id the ingress answered
// 202 for. An id is retried with the same id after any other answer or a connection error, until
// it gets its 202 or GiveUp passes, as a careful producer does.
type ledger struct {
	started time.Time
	done    chan struct{}

	mu       sync.Mutex
	sent     int
	accepted map[string]time.Time
	answers  []answer
	refused  map[string]int // ids given up on: last code
}

// run starts the load in the background; the ledger's done closes when every id was answered 202
// or given up on, or ctx ended.
func (l load) run(ctx context.Context) *ledger {
	if l.Workers <= 0 {
		l.Workers = 16
	}
	if l.GiveUp <= 0 {
		l.GiveUp = 3 * time.Minute
	}
	lg := &ledger{started: time.Now(), done: make(chan struct{}), accepted: map[string]time.Time{}, refused: map[string]int{}}
	ids := make(chan int)
	go func() {
		defer close(ids)
		var tick *time.Ticker
		if l.Rate > 0 {
			tick = time.NewTicker(time.Duration(float64(time.Second) / l.Rate))
			defer tick.Stop()
		}
		for i := range l.Events {
			if tick != nil {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ids <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: l.Workers, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
	var wg sync.WaitGroup
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				l.send(ctx, client, lg, l.Prefix+"-"+strconv.Itoa(i))
			}
		}()
	}
	go func() {
		wg.Wait()
		client.CloseIdleConnections()
		close(lg.done)
	}()
	return lg
}

// send posts one event until it is answered 202, refused for good (a 4xx other than 408/429),
// GiveUp passes or ctx ends.
func (l load) send(ctx context.Context, client *http.Client, lg *ledger, id string) {
	lg.mu.Lock()
	lg.sent++
	lg.mu.Unlock()
	deadline := time.Now().Add(l.GiveUp)
	for n := 0; ; n++ {
		a := post(ctx, client, l.URL, id)
		lg.mu.Lock()
		lg.answers = append(lg.answers, a)
		switch {
		case a.code == http.StatusAccepted:
			lg.accepted[id] = a.end
		case a.code >= 400 && a.code < 500 && a.code != http.StatusRequestTimeout && a.code != http.StatusTooManyRequests,
			time.Now().After(deadline), ctx.Err() != nil:
			lg.refused[id] = a.code
		default:
			lg.mu.Unlock()
			select {
			case <-time.After(min(time.Duration(n+1)*50*time.Millisecond, time.Second)):
				continue
			case <-ctx.Done():
				lg.mu.Lock()
				lg.refused[id] = a.code
			}
		}
		lg.mu.Unlock()
		return
	}
}

func post(ctx context.Context, client *http.Client, url, id string) answer {
	a := answer{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(`{"id":"`+id+`"}`))
	if err != nil {
		panic(err) // the URL is the test's own
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/test/fault")
	req.Header.Set("Ce-Type", "dev.knkafka.fault")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	a.end = time.Now()
	if err != nil {
		return a
	}
	resp.Body.Close()
	a.code = resp.StatusCode
	return a
}

// wait waits until the load is done; false (and an error) if it is not within d.
func (lg *ledger) wait(t testing.TB, d time.Duration) bool {
	t.Helper()
	select {
	case <-lg.done:
		return true
	case <-time.After(d):
		t.Errorf("the load generator did not finish within %s (%d ids sent, %d accepted)", d, lg.sentCount(), len(lg.acceptedIDs()))
		return false
	}
}

func (lg *ledger) sentCount() int {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return lg.sent
}

func (lg *ledger) acceptedIDs() []string {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	ids := make([]string, 0, len(lg.accepted))
	for id := range lg.accepted {
		ids = append(ids, id)
	}
	return ids
}

// answersEndedBetween counts by code the answers that came after from and before to.
func (lg *ledger) answersEndedBetween(from, to time.Time) map[int]int {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	out := map[int]int{}
	for _, a := range lg.answers {
		if a.end.After(from) && a.end.Before(to) {
			out[a.code]++
		}
	}
	return out
}

// sink is an HTTP destination that counts by CloudEvent id the events it accepted (answered 2xx)
// and answers with a status the test switches: a subscriber, or a dead-letter sink.
type sink struct {
	addr   string
	status atomic.Int32
	// delay is the longest a response is held; each waits a uniform random part of it.
	delay atomic.Int64

	mu    sync.Mutex
	first map[string]time.Time // id -> when it was first accepted
	total int                  // events accepted, duplicates included
	calls int                  // requests, refused ones included
}

func newSink(t testing.TB) *sink {
	t.Helper()
	s := &sink{first: map[string]time.Time{}}
	s.status.Store(http.StatusAccepted)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the whole body lets the server notice a hang-up (it cancels r.Context()).
		_, _ = io.Copy(io.Discard, r.Body)
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(rand.N(d)):
			case <-r.Context().Done():
				return // the dispatcher hung up (killed): it never got an answer, nothing was delivered
			}
		}
		code := int(s.status.Load())
		id := r.Header.Get("Ce-Id")
		s.mu.Lock()
		s.calls++
		if code >= 200 && code < 300 {
			s.total++
			if _, ok := s.first[id]; !ok {
				s.first[id] = time.Now()
			}
		}
		s.mu.Unlock()
		w.WriteHeader(code)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.addr = "http://" + ln.Addr().String()
	return s
}

// answer sets the status the sink answers from now on.
func (s *sink) answer(code int) { s.status.Store(int32(code)) }

// slow makes the sink hold each response for up to d (uniformly random), as a real subscriber
// takes time: then a fault finds deliveries in flight. A request whose sender hangs up meanwhile
// counts as not delivered (the subscriber's work is undone when it cannot answer), so a dispatcher
// that committed an offset before its delivery was answered loses those events when killed.
func (s *sink) slow(d time.Duration) { s.delay.Store(int64(d)) }

func (s *sink) has(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.first[id]
	return at, ok
}

func (s *sink) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// missing lists the ids accepted by the ingress that none of sinks accepted.
func missing(lg *ledger, sinks ...*sink) []string {
	var out []string
	for _, id := range lg.acceptedIDs() {
		found := false
		for _, s := range sinks {
			if _, ok := s.has(id); ok {
				found = true
				break
			}
		}
		if !found {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// waitDelivered waits until every id the ingress accepted reached one of sinks, or d passed.
func waitDelivered(t testing.TB, lg *ledger, d time.Duration, sinks ...*sink) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(missing(lg, sinks...)) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// result is a fault run's count: every id the ingress answered 202 must have reached a sink.
type result struct {
	fault                                  string
	sent, accepted, delivered, lost, dupes int
	gaveUp                                 int
	elapsed                                time.Duration
	missingIDs                             []string
}

func (r result) dupRate() float64 {
	if r.delivered == 0 {
		return 0
	}
	return 100 * float64(r.dupes) / float64(r.delivered)
}

// count compares the ledger with what sinks accepted and logs the report line of the run:
//
//	fault=<name> sent=… accepted=… delivered_unique=… lost=… duplicates=… dup_rate=…%
//
// It fails the test for every lost event, naming up to 20 of them, and for ids the load
// generator gave up on.
func count(t testing.TB, fault string, lg *ledger, sinks ...*sink) result {
	t.Helper()
	r := result{fault: fault, sent: lg.sentCount(), accepted: len(lg.acceptedIDs()), elapsed: time.Since(lg.started)}
	ids := map[string]bool{}
	total := 0
	for _, s := range sinks {
		s.mu.Lock()
		for id := range s.first {
			ids[id] = true
		}
		total += s.total
		s.mu.Unlock()
	}
	r.delivered = len(ids)
	r.dupes = total - r.delivered
	r.missingIDs = missing(lg, sinks...)
	r.lost = len(r.missingIDs)
	lg.mu.Lock()
	r.gaveUp = len(lg.refused)
	lg.mu.Unlock()
	t.Logf("fault=%s sent=%d accepted=%d delivered_unique=%d lost=%d duplicates=%d dup_rate=%.3f%% elapsed=%s",
		r.fault, r.sent, r.accepted, r.delivered, r.lost, r.dupes, r.dupRate(), r.elapsed.Round(100*time.Millisecond))
	if r.lost > 0 {
		t.Errorf("LOST %d events the ingress answered 202 for; first ones: %v", r.lost, r.missingIDs[:min(20, r.lost)])
	}
	if r.gaveUp > 0 {
		t.Errorf("the load generator gave up on %d ids (never answered 202)", r.gaveUp)
	}
	return r
}

// explain logs where the missing events are in the topic and what the group committed, to tell a
// lost commit from a lost produce.
func explain(t testing.TB, servers []string, topic, group string, ids []string) {
	t.Helper()
	if len(ids) == 0 {
		return
	}
	at := placements(t, servers, topic)
	for _, id := range ids[:min(20, len(ids))] {
		if p, ok := at[id]; ok {
			t.Logf("missing %s is in the topic at partition %d offset %d", id, p.partition, p.offset)
		} else {
			t.Logf("missing %s is NOT in the topic", id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kafkatest.Admin(t, servers).FetchOffsets(ctx, group)
	if err != nil {
		t.Logf("fetching committed offsets: %v", err)
		return
	}
	offs.Each(func(o kadm.OffsetResponse) { t.Logf("committed %s/%d: %d", o.Topic, o.Partition, o.At) })
}

// placements reads topic from the start to its current end and maps each CloudEvent id to the
// position of its first record.
// position is where a record is.
type position struct {
	partition int32
	offset    int64
}

func placements(t testing.TB, servers []string, topic string) map[string]position {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kafkatest.Admin(t, servers).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]position{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions not read to their end: %v", topic, remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "ce_id" {
					if _, ok := out[string(h.Value)]; !ok {
						out[string(h.Value)] = position{r.Partition, r.Offset}
					}
				}
			}
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

// waitCommittedAtEnd waits until group's committed offset of every partition of topic equals the
// partition's end offset — everything produced is delivered and committed — or d passed.
func waitCommittedAtEnd(t testing.TB, servers []string, topic, group string, d time.Duration) {
	t.Helper()
	adm := kafkatest.Admin(t, servers)
	deadline := time.Now().Add(d)
	var diff []string
	for time.Now().Before(deadline) {
		diff = commitGap(adm, topic, group)
		if len(diff) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("group %s did not commit the end of %s within %s: %v", group, topic, d, diff)
}

// commitGap lists the partitions whose committed offset is not the end offset.
func commitGap(adm *kadm.Client, topic, group string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return []string{"end offsets: " + err.Error()}
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return []string{"committed offsets: " + err.Error()}
	}
	var gap []string
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := offs.Lookup(topic, e.Partition)
		if !ok || c.At != e.Offset {
			at := int64(-1)
			if ok {
				at = c.At
			}
			gap = append(gap, fmt.Sprintf("%d: committed %d, end %d", e.Partition, at, e.Offset))
		}
	})
	return gap
}
