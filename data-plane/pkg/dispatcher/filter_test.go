package dispatcher

import (
	"context"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/test/kafkatest"
)

type sf = eventingv1.SubscriptionsAPIFilter

func TestPruneDropsExpressionsThatSelectNothing(t *testing.T) {
	exact := sf{Exact: map[string]string{"type": "a"}}
	tests := []struct {
		name string
		in   []sf
		want []sf
	}{
		{name: "empty expression", in: []sf{{}}, want: nil},
		{name: "not of nothing", in: []sf{{Not: &sf{}}}, want: nil},
		{name: "not of not of nothing", in: []sf{{Not: &sf{Not: &sf{}}}}, want: nil},
		{name: "all of nothing beside a real filter", in: []sf{{All: []sf{{}, {Not: &sf{}}}}, exact}, want: []sf{exact}},
		{name: "any keeps its real members", in: []sf{{Any: []sf{{}, exact}}}, want: []sf{{Any: []sf{exact}}}},
		{name: "not of a real filter stays", in: []sf{{Not: &exact}}, want: []sf{{Not: &exact}}},
		{name: "cesql stays", in: []sf{{CESQL: "type = 'a'"}}, want: []sf{{CESQL: "type = 'a'"}}},
		{name: "not of an invalid cesql expression (found by FuzzFilter)", in: []sf{{Not: &sf{CESQL: "nope("}}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, prune(tt.in)); diff != "" {
				t.Errorf("prune (-want +got):\n%s", diff)
			}
		})
	}
}

// Knative answers "no opinion" for every pruned expression; the built filters must agree with
// Knative's own evaluation of the unpruned ones, and cleaning them up must not panic.
func TestNewFilterMatchesKnativeWithoutItsNilFilters(t *testing.T) {
	logger := zaptest.NewLogger(t)
	e := cloudevents.NewEvent()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("a")
	for _, fs := range [][]sf{
		{{Not: &sf{}}},
		{{Not: &sf{Not: &sf{}}}, {Exact: map[string]string{"type": "a"}}},
		{{All: []sf{{}, {Not: &sf{}}}}, {Exact: map[string]string{"type": "b"}}},
		{{Any: []sf{{Not: &sf{}}, {Prefix: map[string]string{"type": "a"}}}}},
	} {
		f, err := newFilter(logger, &contract.Filter{Filters: fs})
		if err != nil {
			t.Fatalf("newFilter(%+v): %v", fs, err)
		}
		got := eventfilter.NoFilter
		if f != nil {
			got = f.Filter(context.Background(), e)
			f.Cleanup()
		}
		if want := passes(fs, e); (got != eventfilter.FailFilter) != want {
			t.Errorf("filters %+v: got %v, want passing=%v", fs, got, want)
		}
	}
}

// passes evaluates the unpruned fs with Knative's own filters, the reference the pruned ones are
// held to. (Knative's filter is not cleaned up: that is the call that panics.)
func passes(fs []sf, e cloudevents.Event) bool {
	f := subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), fs)
	return f.Filter(context.Background(), e) != eventfilter.FailFilter
}

func TestProcessorHaltsItsEgressOnAPanic(t *testing.T) {
	var halted string
	p := &processor{
		logger:    zaptest.NewLogger(t, zaptest.Level(zap.FatalLevel)),
		filter:    panicFilter{},
		filterCtx: context.Background(),
		metrics:   newMetrics(prometheus.NewRegistry()).forEgress("test/panic"),
		halt:      func(reason string) { halted = reason },
	}
	rec, err := cekafka.Encode(newEvent("1", "a"))
	if err != nil {
		t.Fatal(err)
	}
	rec.Topic, rec.Partition, rec.Offset = "t", 2, 7
	if p.process(context.Background(), rec) {
		t.Error("process reported a record whose filter panicked as completed; it must be redelivered")
	}
	if !strings.Contains(halted, "t/2@7 panicked: boom") {
		t.Errorf("halt reason %q, want the record and the panic named", halted)
	}
}

type panicFilter struct{}

func (panicFilter) Filter(context.Context, cloudevents.Event) eventfilter.FilterResult { panic("boom") }
func (panicFilter) Cleanup()                                                           {}

// A Trigger with `filters: [{not: {}}]` used to crash the whole dispatcher when it was changed or
// removed. Now it is served like Knative serves it (no opinion: every event passes), and
// replacing and removing it leaves the other egresses delivering.
func TestEmptyNotFilterIsServedAndRemovedWithoutCrashing(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	notSub, otherSub := newSubscriber(t, nil), newSubscriber(t, nil)
	notEg := newEgress(t, "not-empty", notSub.URL, withFilter(&contract.Filter{Filters: []sf{{Not: &sf{}}}}))
	other := newEgress(t, "other", otherSub.URL)
	d := newDispatcher(t)
	apply(t, d, newContract(servers, topic, notEg, other))
	waitReady(t, d, notEg.UID, other.UID)

	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("e1", "a"))
	eventually(t, "both egresses delivered e1", func() bool { return notSub.count() == 1 && otherSub.count() == 1 })

	// Edit (restart with a nested empty filter), then delete the egress.
	notEg.Filter = &contract.Filter{Filters: []sf{{All: []sf{{Not: &sf{Not: &sf{}}}}}}}
	apply(t, d, newContract(servers, topic, notEg, other))
	apply(t, d, newContract(servers, topic, other))
	produce(t, p, topic, 0, newEvent("e2", "a"))
	eventually(t, "the other egress delivered e2", func() bool { return otherSub.count() == 2 })
	if st := d.Status()[other.UID]; !st.Ready {
		t.Errorf("other egress status %+v, want Ready", st)
	}
}
