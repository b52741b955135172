package dispatcher

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"
	"knative.dev/eventing/pkg/eventfilter/attributes"

	"knkafka.dev/control-plane/pkg/contract"
)

// TestExactFilterAnswersAsKnativesAttributesFilter compares exactFilter with Knative's attributes
// filter on every combination of filters over the string context attributes (equal, different,
// "" for any value) and events that set them or leave the optional ones empty.
func TestExactFilterAnswersAsKnativesAttributesFilter(t *testing.T) {
	full := event.New()
	full.SetID("id-1")
	full.SetType("t.a")
	full.SetSource("/src")
	full.SetSubject("subj")
	full.SetDataSchema("https://schema/x")
	if err := full.SetData("application/json; charset=utf-8", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	sparse := event.New()
	sparse.SetID("id-2")
	sparse.SetType("t.b")
	sparse.SetSource("/src")
	v03 := full.Clone()
	v03.SetSpecVersion(event.CloudEventsVersionV03)
	events := []event.Event{full, sparse, v03}

	values := map[string][]string{}
	for name, get := range coreAttributes {
		values[name] = []string{"", "nope"}
		for i := range events {
			if v := get(&events[i]); v != "" {
				values[name] = append(values[name], v)
			}
		}
	}
	// Single attributes with every value, and pairs of them.
	var filters []map[string]string
	for a, vs := range values {
		for _, v := range vs {
			filters = append(filters, map[string]string{a: v})
			for b, ws := range values {
				if b <= a {
					continue
				}
				for _, w := range ws {
					filters = append(filters, map[string]string{a: v, b: w})
				}
			}
		}
	}
	ctx := context.Background()
	checked := 0
	for _, attrs := range filters {
		ef := newExactFilter(attrs)
		if ef == nil {
			t.Fatalf("no exactFilter for %v", attrs)
		}
		kn := attributes.NewAttributesFilter(attrs)
		for i, e := range events {
			if got, want := ef.Filter(ctx, e), kn.Filter(ctx, e); got != want {
				t.Errorf("filter %v on event %d: exactFilter says %v, Knative's %v", attrs, i, got, want)
			}
			checked++
		}
	}
	t.Logf("%d filters × events compared", checked)
}

// TestExactFilterLeavesOtherAttributesToKnative checks that filters naming an extension, time or
// datacontentencoding are not exactFilters, so newFilter builds Knative's.
func TestExactFilterLeavesOtherAttributesToKnative(t *testing.T) {
	for _, attrs := range []map[string]string{
		{"myext": "x"},
		{"type": "t", "myext": ""},
		{"time": ""},
		{"datacontentencoding": "base64"},
	} {
		if ef := newExactFilter(attrs); ef != nil {
			t.Errorf("newExactFilter(%v) = %v, want nil", attrs, ef)
		}
	}
	ext, err := newFilter(zap.NewNop(), &contract.Filter{Attributes: map[string]string{"type": "t", "myext": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ext.(exactFilter); ok {
		t.Errorf("a filter naming an extension was built as an exactFilter")
	}
	typ, err := newFilter(zap.NewNop(), &contract.Filter{Attributes: map[string]string{"type": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := typ.(exactFilter); !ok {
		t.Errorf("a filter on type was built as %T, want an exactFilter", typ)
	}
}

// TestScreeningByExactFilterDoesNotAllocate checks that the processor applies an exactFilter to
// the event it holds without copying it: with 1,000 Triggers screening every record of a topic,
// one allocation per record and Trigger was a tenth of the dispatcher's allocations.
func TestScreeningByExactFilterDoesNotAllocate(t *testing.T) {
	f, err := newFilter(zap.NewNop(), &contract.Filter{Attributes: map[string]string{"type": "t", "subject": ""}})
	if err != nil {
		t.Fatal(err)
	}
	// (Not source: the SDK keeps it as a URL and builds its string on every read.)
	p := &processor{filter: f}
	pass, fail := event.New(), event.New()
	pass.SetID("1")
	pass.SetType("t")
	pass.SetSource("s")
	pass.SetSubject("x")
	fail.SetID("2")
	fail.SetType("u")
	fail.SetSource("s")
	fail.SetSubject("x")
	if !p.passes(&pass) || p.passes(&fail) {
		t.Fatalf("passes(type t) = %v, passes(type u) = %v; want true, false", p.passes(&pass), p.passes(&fail))
	}
	if n := testing.AllocsPerRun(200, func() { p.passes(&pass); p.passes(&fail) }); n != 0 {
		t.Fatalf("screening two events allocated %.1f times, want 0", n)
	}
}
