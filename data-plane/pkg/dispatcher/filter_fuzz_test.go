package dispatcher

import (
	"context"
	"encoding/json"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
)

// FuzzFilter: any filter tree a Trigger can carry (JSON of its filters) is built, evaluated and
// cleaned up without crashing the dispatcher. Building and cleanup must not panic at all (that is
// our pruning's job); evaluation runs as the processor runs it, where a panic in Knative's code
// halts only that egress — so the fuzzer checks the same guard the processor relies on.
func FuzzFilter(f *testing.F) {
	f.Add(`[{"not":{}}]`, "t", "/s")
	f.Add(`[{"all":[{},{"not":{"not":{}}}]},{"exact":{"type":"t"}}]`, "t", "/s")
	f.Add(`[{"any":[{"prefix":{"type":"a"}},{"suffix":{"source":"s"}}]}]`, "ab", "/s")
	f.Add(`[{"cesql":"type = 'a' AND source LIKE '/%'"}]`, "a", "/x")
	f.Add(`[{"cesql":"ABS(1) = 1"},{"not":{"cesql":"nope("}}]`, "a", "/x")
	logger := zap.NewNop()
	f.Fuzz(func(t *testing.T, filters, typ, source string) {
		var f contract.Filter
		if err := json.Unmarshal([]byte(filters), &f.Filters); err != nil {
			return
		}
		built, err := newFilter(logger, &f)
		if err != nil || built == nil {
			return
		}
		e := cloudevents.NewEvent()
		e.SetID("1")
		e.SetType(typ)
		e.SetSource(source)
		func() {
			defer func() { _ = recover() }() // the processor's guard: see processor.process
			built.Filter(context.Background(), e)
		}()
		built.Cleanup()
	})
}
