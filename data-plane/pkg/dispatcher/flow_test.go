package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

func sortedIDs(s *subscriber) []string {
	var out []string
	for id := range s.ids() {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func TestFiltersFollowKnativeSemantics(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	subs := map[string]*subscriber{}
	var egs []contract.Egress
	for name, f := range map[string]*contract.Filter{
		// Exact match; "" means the attribute must be present (with a non-empty value).
		"attributes": {Attributes: map[string]string{"type": "a", "color": ""}},
		"prefix":     {Filters: []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"type": "b."}}}},
		"cesql":      {Filters: []eventingv1.SubscriptionsAPIFilter{{CESQL: "color = 'red'"}}},
		// Both set: the SubscriptionsAPI filters win.
		"both": {
			Attributes: map[string]string{"type": "never"},
			Filters:    []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "a"}}},
		},
		"none": nil,
	} {
		subs[name] = newSubscriber(t, nil)
		egs = append(egs, newEgress(t, name, subs[name].URL, withFilter(f)))
	}
	reg := prometheus.NewRegistry()
	d := newDispatcher(t, WithRegistry(reg))
	apply(t, d, newContract(servers, topic, egs...))
	var uids []string
	for _, eg := range egs {
		uids = append(uids, eg.UID)
	}
	waitReady(t, d, uids...)

	adm := kafkatest.Admin(t, servers)
	start := map[string]int64{}
	for _, eg := range egs {
		start[eg.Name] = committed(t, adm, eg.ConsumerGroup, topic)[0]
	}
	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("e1", "a", "color", "red"))
	produce(t, p, topic, 0, newEvent("e2", "a"))
	produce(t, p, topic, 0, newEvent("e3", "b.x", "color", "blue"))
	produce(t, p, topic, 0, newEvent("e4", "bx", "color", "red"))
	produceRaw(t, p, topic, 0, "not a cloudevent")
	produce(t, p, topic, 0, newEvent("e6", "c"))

	// Every record, filtered or not (or undecodable), completes: each group commits all six.
	for _, eg := range egs {
		eventually(t, eg.Name+" committed everything", func() bool {
			return committed(t, adm, eg.ConsumerGroup, topic)[0] == start[eg.Name]+6
		})
	}
	want := map[string][]string{
		"attributes": {"e1"},
		"prefix":     {"e3"},
		"cesql":      {"e1", "e4"},
		"both":       {"e1", "e2"},
		"none":       {"e1", "e2", "e3", "e4", "e6"},
	}
	for name, ids := range want {
		if diff := cmp.Diff(ids, sortedIDs(subs[name])); diff != "" {
			t.Errorf("egress %s delivered (-want +got):\n%s", name, diff)
		}
	}
	for outcome, want := range map[string]float64{"delivered": 1, "filtered": 4, "undecodable": 1} {
		c, err := d.metrics.dispatched.GetMetricWithLabelValues("test/prefix", outcome)
		if err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("events_total{egress=test/prefix,outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

func TestRetryThenDeadLetter(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	var mu sync.Mutex
	attempts := map[string]int{}
	sub := newSubscriber(t, func(_ http.ResponseWriter, r received) int {
		mu.Lock()
		attempts[r.id]++
		mu.Unlock()
		return http.StatusServiceUnavailable
	})
	dls := newSubscriber(t, nil)
	d := newDispatcher(t)
	eg := newEgress(t, "dls", sub.URL, withOrder(contract.Ordered), withDeadLetter(dls.URL),
		withDelivery(contract.Delivery{Retry: 2, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(10 * time.Millisecond)}))
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)
	adm := kafkatest.Admin(t, servers)
	start := committed(t, adm, eg.ConsumerGroup, topic)[0]

	p := newProducer(t, servers)
	for i := range 3 {
		produce(t, p, topic, 0, newEvent(fmt.Sprintf("f-%d", i), "t"))
	}
	eventually(t, "dead-lettered", func() bool { return dls.count() == 3 })
	eventually(t, "committed after dead-lettering", func() bool {
		return committed(t, adm, eg.ConsumerGroup, topic)[0] == start+3
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range 3 {
		if n := attempts[fmt.Sprintf("f-%d", i)]; n != 3 {
			t.Errorf("f-%d: %d attempts, want 3 (1 + 2 retries)", i, n)
		}
	}
	for _, r := range dls.received() {
		if r.header.Get("Ce-Knativeerrorcode") != "503" {
			t.Errorf("dead-lettered %s without knativeerrorcode 503: %v", r.id, r.header)
		}
	}
}

func TestFailedDeliveryWithoutDeadLetterStillCompletes(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	sub := newSubscriber(t, func(http.ResponseWriter, received) int { return http.StatusBadRequest })
	d := newDispatcher(t)
	eg := newEgress(t, "nodls", sub.URL)
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)
	adm := kafkatest.Admin(t, servers)
	start := committed(t, adm, eg.ConsumerGroup, topic)[0]
	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("x", "t"))
	eventually(t, "committed", func() bool { return committed(t, adm, eg.ConsumerGroup, topic)[0] == start+1 })
}

// replyWith answers with a binary-mode reply event.
func replyWith(w http.ResponseWriter, id, typ string) int {
	w.Header().Set("Ce-Specversion", "1.0")
	w.Header().Set("Ce-Id", id)
	w.Header().Set("Ce-Type", typ)
	w.Header().Set("Ce-Source", "/subscriber")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"reply":true}`))
	return 0
}

func TestRepliesReachTheTopicAndTheReplyURL(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	answer := func(w http.ResponseWriter, r received) int {
		if strings.HasPrefix(r.typ, "reply") {
			return http.StatusOK // the reply coming back through the topic
		}
		return replyWith(w, "reply-to-"+r.id, "reply.type")
	}
	toTopic := newSubscriber(t, answer)
	toURL := newSubscriber(t, answer)
	replySink := newSubscriber(t, nil)
	d := newDispatcher(t)
	egTopic := newEgress(t, "replytopic", toTopic.URL, withReply(contract.Reply{Kind: contract.ReplyTopic}),
		withFilter(&contract.Filter{Attributes: map[string]string{"type": "request"}}))
	egURL := newEgress(t, "replyurl", toURL.URL, withReply(contract.Reply{Kind: contract.ReplyURL, URL: replySink.URL}),
		withFilter(&contract.Filter{Attributes: map[string]string{"type": "request"}}))
	apply(t, d, newContract(servers, topic, egTopic, egURL))
	waitReady(t, d, egTopic.UID, egURL.UID)

	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("q1", "request", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	eventually(t, "reply at the reply URL", func() bool { return replySink.count() == 1 })
	if got := replySink.received()[0].id; got != "reply-to-q1" {
		t.Errorf("reply URL got %q, want reply-to-q1", got)
	}

	// The topic reply is a new record on the broker topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var found bool
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for !found && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			e, err := cekafka.Decode(r)
			if err == nil && e.ID() == "reply-to-q1" && e.Type() == "reply.type" {
				found = true
			}
		})
	}
	if !found {
		t.Fatal("the reply never reached the broker topic")
	}
}

// A reply goes on with the trace context of the record that caused it, whether the request was
// encoded once for every lane (two Triggers share the record here) or not.
func TestRepliesCarryTheRecordsTraceContext(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	answer := func(w http.ResponseWriter, r received) int { return replyWith(w, "reply-to-"+r.id, "reply.type") }
	replySink := newSubscriber(t, nil)
	d := newDispatcher(t)
	var egs []contract.Egress
	for _, name := range []string{"first", "second"} {
		egs = append(egs, newEgress(t, name, newSubscriber(t, answer).URL,
			withReply(contract.Reply{Kind: contract.ReplyURL, URL: replySink.URL})))
	}
	apply(t, d, newContract(servers, topic, egs...))
	waitReady(t, d, egs[0].UID, egs[1].UID)

	r, err := cekafka.Encode(newEvent("q1", "request"))
	if err != nil {
		t.Fatal(err)
	}
	r.Topic = topic
	cekafka.SetTraceHeaders(r, traceparent, "k=v")
	produceRecord(t, newProducer(t, servers), r)
	eventually(t, "both replies at the reply URL", func() bool { return replySink.count() == 2 })
	for _, got := range replySink.received() {
		if got.header.Get("Traceparent") != traceparent || got.header.Get("Tracestate") != "k=v" {
			t.Errorf("reply %s carried Traceparent %q, Tracestate %q; want the record's", got.id,
				got.header.Get("Traceparent"), got.header.Get("Tracestate"))
		}
	}
}
