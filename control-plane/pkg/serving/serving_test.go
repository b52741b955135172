package serving

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
)

type published map[string]uint64

func (p published) Published(uid string) (uint64, bool) {
	g, ok := p[uid]
	return g, ok
}

func TestCheck(t *testing.T) {
	ready := contract.ServingStatus{Ready: true}
	tests := []struct {
		name      string
		published published
		status    contract.Status
		err       error
		role      Role
		want      Verdict
	}{{
		name:      "an egress the data plane applied and reports ready is served",
		published: published{"uid": 4},
		status:    contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{"uid": ready}},
		role:      Egress,
		want:      Verdict{Served: true},
	}, {
		name:      "an ingress the data plane applied and reports ready is served",
		published: published{"uid": 5},
		status:    contract.Status{Generation: 5, Ingresses: map[string]contract.ServingStatus{"uid": ready}},
		role:      Ingress,
		want:      Verdict{Served: true},
	}, {
		name:   "an entry not published yet is not served, whatever the data plane says",
		status: contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{"uid": ready}},
		role:   Egress,
		want:   Verdict{Reason: ReasonContractNotPublished, Message: "the source's contract entry is not published yet"},
	}, {
		name:      "an unreachable data plane says why",
		published: published{"uid": 5},
		err:       errors.New("dial tcp: connection refused"),
		role:      Egress,
		want:      Verdict{Reason: ReasonDataPlaneUnreachable, Message: "dial tcp: connection refused"},
	}, {
		name:      "a data plane behind the entry's generation does not serve it, even if an older entry was ready",
		published: published{"uid": 6},
		status:    contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{"uid": ready}},
		role:      Egress,
		want:      Verdict{Reason: ReasonContractNotApplied, Message: "the data plane applied contract generation 5; the source is in generation 6"},
	}, {
		name:      "the data plane's own reason is passed on",
		published: published{"uid": 5},
		status:    contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{"uid": {Reason: "JoiningGroup", Message: "rebalancing"}}},
		role:      Egress,
		want:      Verdict{Reason: "JoiningGroup", Message: "rebalancing"},
	}, {
		name:      "an egress missing from the status waits for the consumer group",
		published: published{"uid": 5},
		status:    contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{}},
		role:      Egress,
		want:      Verdict{Reason: ReasonConsumerGroupNotReady, Message: "the dispatcher does not serve the source yet"},
	}, {
		name:      "an ingress missing from the status waits for the ingress",
		published: published{"uid": 5},
		status:    contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{"uid": ready}},
		role:      Ingress,
		want:      Verdict{Reason: ReasonIngressNotReady, Message: "the ingress does not serve the source yet"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.published, tt.status, tt.err, tt.role, "uid", "source")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReleased(t *testing.T) {
	running := contract.Status{Generation: 3, Egresses: map[string]contract.ServingStatus{"a": {Ready: true}, "b": {Reason: "JoiningGroup"}}}
	tests := []struct {
		name   string
		status contract.Status
		err    error
		uids   []string
		want   bool
		reason string
	}{
		{name: "egresses no dispatcher reports are released", status: running, uids: []string{"c", "d"}, want: true},
		{name: "an egress reported ready is still running", status: running, uids: []string{"c", "a"}, reason: ReasonDataPlaneStillServing},
		{name: "an egress reported not ready is still running too", status: running, uids: []string{"b"}, reason: ReasonDataPlaneStillServing},
		{name: "an unreadable data plane releases nothing", status: contract.Status{}, err: errors.New("refused"), uids: []string{"c"}, reason: ReasonDataPlaneUnreachable},
		{name: "no egresses are released at once", status: running, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Released(tt.status, tt.err, tt.uids...)
			if v.Served != tt.want || v.Reason != tt.reason {
				t.Errorf("Released(%v) = %+v, want released=%t reason %q", tt.uids, v, tt.want, tt.reason)
			}
		})
	}
}
