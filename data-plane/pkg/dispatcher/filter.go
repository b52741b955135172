package dispatcher

import (
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"

	"knkafka.dev/control-plane/pkg/contract"
)

// newFilter builds the egress's filter as Knative does: the SubscriptionsAPI filters when set
// (they win over the legacy attributes), else the exact-match attributes (where "" means the
// attribute must be present with any non-empty value; exactFilter when they are all string
// context attributes), else none.
//
// Knative's filter constructors trust their input: `not: {}` passes validation and builds a
// filter whose Cleanup dereferences nil, and a panic there would take every tenant of the
// dispatcher down. So the expressions are pruned first (see prune) and building is recovered: a
// filter that still cannot be built makes its egress invalid, nothing else.
func newFilter(logger *zap.Logger, f *contract.Filter) (filter eventfilter.Filter, err error) {
	defer func() {
		if v := recover(); v != nil {
			filter, err = nil, fmt.Errorf("building the filter panicked: %v", v)
			logger.Error("building a filter panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	switch {
	case f == nil:
		return nil, nil
	case len(f.Filters) > 0:
		filters := prune(f.Filters)
		if len(filters) == 0 {
			return nil, nil
		}
		return subscriptionsapi.CreateSubscriptionsAPIFilters(logger, filters), nil
	case len(f.Attributes) > 0:
		if ef := newExactFilter(f.Attributes); ef != nil {
			return ef, nil
		}
		return attributes.NewAttributesFilter(f.Attributes), nil
	default:
		return nil, nil
	}
}

// prune drops the expressions that select nothing — `{}`, `not: {}`, `all`/`any` of only such —
// at every depth. Knative evaluates each of them as "no opinion" (a not-filter around nothing
// answers NoFilter, an empty expression is skipped), so pruning keeps its results exactly while
// leaving no nil filter inside the tree for Filter or Cleanup to dereference.
func prune(fs []eventingv1.SubscriptionsAPIFilter) []eventingv1.SubscriptionsAPIFilter {
	var out []eventingv1.SubscriptionsAPIFilter
	for i := range fs {
		if f, ok := pruneOne(fs[i]); ok {
			out = append(out, f)
		}
	}
	return out
}

// pruneOne returns f without empty sub-expressions and whether anything is left of it. It
// follows the precedence of Knative's materialisation: the first dialect set is the one used.
func pruneOne(f eventingv1.SubscriptionsAPIFilter) (eventingv1.SubscriptionsAPIFilter, bool) {
	switch {
	case len(f.Exact) > 0, len(f.Prefix) > 0, len(f.Suffix) > 0:
		return f, leafBuilds(f)
	case len(f.All) > 0:
		all := prune(f.All)
		return eventingv1.SubscriptionsAPIFilter{All: all}, len(all) > 0
	case len(f.Any) > 0:
		anyOf := prune(f.Any)
		return eventingv1.SubscriptionsAPIFilter{Any: anyOf}, len(anyOf) > 0
	case f.Not != nil:
		inner, ok := pruneOne(*f.Not)
		return eventingv1.SubscriptionsAPIFilter{Not: &inner}, ok
	case f.CESQL != "":
		return f, leafBuilds(f)
	default:
		return f, false
	}
}

// leafBuilds reports whether Knative can build the leaf expression f (exact, prefix, suffix or
// cesql). One it cannot build (an invalid CESQL expression, say) it
// skips, or wraps as nil in a not-filter: "no opinion" again, so it is pruned like an empty one.
func leafBuilds(f eventingv1.SubscriptionsAPIFilter) bool {
	built := subscriptionsapi.MaterializeSubscriptionsAPIFilter(zap.NewNop(), f)
	if built == nil {
		return false
	}
	built.Cleanup()
	return true
}
