package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// poll is how often the waits look again.
const poll = 100 * time.Millisecond

// eventually calls check until it reports done or within passes, and then fails t with what it
// last saw. It returns how long it took.
func eventually(t *testing.T, within time.Duration, what string, check func() (done bool, state string)) time.Duration {
	t.Helper()
	took, err := waitFor(within, what, check)
	if err != nil {
		t.Fatal(err)
	}
	return took
}

// waitFor calls check until it reports done, or returns an error saying what it last saw once
// within passes.
func waitFor(within time.Duration, what string, check func() (done bool, state string)) (time.Duration, error) {
	began := time.Now()
	deadline := began.Add(within)
	for {
		done, state := check()
		if done {
			return time.Since(began), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: not within %s; last seen: %s", what, within, state)
		}
		time.Sleep(poll)
	}
}

// conditionsOf is how a wait reads an object's status conditions.
type conditionsOf func(ctx context.Context) (duckv1.Conditions, error)

// waitReady waits until the object's Ready condition is True and returns the time it took. It
// reads the conditions themselves: the condition sets registered in this process are Knative's
// defaults, not those our controller uses.
func waitReady(t *testing.T, within time.Duration, what string, get conditionsOf) time.Duration {
	t.Helper()
	return eventually(t, within, what+" Ready", func() (bool, string) {
		conds, err := get(context.Background())
		if err != nil {
			return false, err.Error()
		}
		if c := findCondition(conds, apis.ConditionReady); c != nil && c.IsTrue() {
			return true, ""
		}
		return false, describeConditions(conds)
	})
}

func findCondition(conds duckv1.Conditions, typ apis.ConditionType) *apis.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func describeConditions(conds duckv1.Conditions) string {
	if len(conds) == 0 {
		return "no conditions"
	}
	s := ""
	for _, c := range conds {
		s += fmt.Sprintf("[%s=%s %s: %s] ", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}

// waitGone waits until get answers NotFound: the object's finalizers ran.
func waitGone(t *testing.T, within time.Duration, what string, get func(ctx context.Context) error) time.Duration {
	t.Helper()
	return eventually(t, within, what+" deleted", func() (bool, string) {
		err := get(context.Background())
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("get: %v", err)
	})
}

// topicPartitions returns the number of partitions of topic, and false when it does not exist. It
// asks the cluster directly: kadm's ListTopics answers from the client's metadata cache, which
// may predate a creation or deletion by seconds.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) (int, bool, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, false, err
	}
	if len(resp.Topics) != 1 {
		return 0, false, fmt.Errorf("metadata for %q answered %d topics", topic, len(resp.Topics))
	}
	switch err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return len(resp.Topics[0].Partitions), true, nil
}

// topicConfig returns the value of a topic's config key, and false when it has none.
func topicConfig(ctx context.Context, adm *kadm.Client, topic, key string) (string, bool, error) {
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", false, err
	}
	rc, err := configs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return "", false, err
	}
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value, true, nil
		}
	}
	return "", false, nil
}

// listGroups returns the consumer groups Kafka knows.
func listGroups(ctx context.Context, adm *kadm.Client) ([]string, error) {
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	names := groups.Groups()
	slices.Sort(names)
	return names, nil
}

// groupState describes group as DescribeGroups sees it: "Dead" (or an error naming
// GROUP_ID_NOT_FOUND) when it does not exist, else its state and member count.
func groupState(ctx context.Context, adm *kadm.Client, group string) string {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "describe error: " + err.Error()
	}
	d, ok := described[group]
	if !ok {
		return "absent"
	}
	if d.Err != nil {
		return "error: " + d.Err.Error()
	}
	return fmt.Sprintf("%s with %d members", d.State, len(d.Members))
}

// groupGone says whether Kafka no longer knows group: it is neither listed nor describable with
// members or offsets.
func groupGone(ctx context.Context, adm *kadm.Client, group string) (bool, string) {
	groups, err := listGroups(ctx, adm)
	if err != nil {
		return false, err.Error()
	}
	if slices.Contains(groups, group) {
		return false, "listed; " + groupState(ctx, adm, group)
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, "fetching offsets: " + err.Error()
	}
	if n := len(offsets.Offsets()); n > 0 {
		return false, fmt.Sprintf("not listed but has %d committed offsets", n)
	}
	return true, groupState(ctx, adm, group)
}

// waitCaughtUp waits until each group committed every record of topic, replies and dead letters
// included: a dispatcher produces a reply, or hands an event to the dead-letter sink, before it
// commits the event. Committed offsets are read before the end offsets, so equal offsets mean
// nothing was produced in between and everything was processed. After it, what the subscribers
// received is final. It fails t, but lets it go on to check what the subscribers did receive,
// and reports whether they caught up.
func waitCaughtUp(t *testing.T, adm *kadm.Client, topic string, groups ...string) bool {
	t.Helper()
	_, err := waitFor(30*time.Second, fmt.Sprintf("consumer groups %v caught up with topic %s", groups, topic), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		committed := make(map[string]kadm.OffsetResponses, len(groups))
		for _, g := range groups {
			offsets, err := adm.FetchOffsets(ctx, g)
			if err != nil {
				return false, fmt.Sprintf("offsets of %s: %v", g, err)
			}
			committed[g] = offsets
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil || len(ends[topic]) == 0 {
			return false, fmt.Sprintf("end offsets: %v (%d partitions)", err, len(ends[topic]))
		}
		var behind []string
		ends.Each(func(end kadm.ListedOffset) {
			for _, g := range groups {
				at := int64(0)
				if o, ok := committed[g].Lookup(topic, end.Partition); ok && o.Err == nil {
					at = o.At
				}
				if at < end.Offset {
					behind = append(behind, fmt.Sprintf("%s p%d at %d of %d", g, end.Partition, at, end.Offset))
				}
			}
		})
		slices.Sort(behind)
		return len(behind) == 0, strings.Join(firstN(behind, 10), "; ")
	})
	if err != nil {
		t.Error(err)
	}
	return err == nil
}
