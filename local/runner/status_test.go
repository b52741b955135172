package runner

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

func TestReadyOf(t *testing.T) {
	broker := Object{Kind: contract.KindBroker, Name: "b", UID: "b-uid"}
	trigger := Object{Kind: contract.KindTrigger, Name: "t", UID: "t-uid", Parent: "b-uid"}
	served := contract.Status{Generation: 2,
		Ingresses: map[string]contract.ServingStatus{"b-uid": {Ready: true}},
		Egresses:  map[string]contract.ServingStatus{"t-uid": {Reason: "JoiningGroup", Message: "joining"}},
	}
	tests := []struct {
		name   string
		v      view
		st     contract.Status
		o      Object
		want   Condition
		inText string
	}{{
		name: "a local problem is False with its reason",
		v:    view{generation: 2}, st: served,
		o:    Object{Kind: contract.KindTrigger, UID: "x", Problem: &Problem{Reason: ReasonRefNotSupported, Message: "use uri"}},
		want: Condition{Type: ConditionReady, Status: StatusFalse, Reason: ReasonRefNotSupported, Message: "use uri"},
	}, {
		name: "the parent's topic error makes a trigger False",
		v:    view{generation: 2, topicErrs: map[string]error{"b-uid": errors.New("no leader")}}, st: served, o: trigger,
		want: Condition{Type: ConditionReady, Status: StatusFalse, Reason: ReasonTopicNotReady, Message: "no leader"},
	}, {
		name: "a contract the data plane refused is False",
		v:    view{generation: 2, applyErr: errors.New("bad servers")}, st: served, o: broker,
		want: Condition{Type: ConditionReady, Status: StatusFalse, Reason: reasonDataPlaneFailed, Message: "bad servers"},
	}, {
		name: "an older generation served is Unknown",
		v:    view{generation: 3}, st: served, o: broker,
		want: Condition{Type: ConditionReady, Status: StatusUnknown, Reason: ReasonNotApplied, Message: "the data plane serves generation 2, not 3 yet"},
	}, {
		name: "a served ingress is True",
		v:    view{generation: 2}, st: served, o: broker,
		want: Condition{Type: ConditionReady, Status: StatusTrue},
	}, {
		name: "an egress still joining is Unknown with the data plane's reason",
		v:    view{generation: 2}, st: served, o: trigger,
		want: Condition{Type: ConditionReady, Status: StatusUnknown, Reason: "JoiningGroup", Message: "joining"},
	}, {
		name: "a topic that cannot be created for want of its Secret is False with the Secret's reason",
		v:    view{generation: 2, topicErrs: map[string]error{"b-uid": fmt.Errorf("creating: %w", kafkaconn.SecretNotFound("knative-eventing/auth"))}},
		st:   served, o: broker,
		want: Condition{Type: ConditionReady, Status: StatusFalse, Reason: string(kafkaconn.ReasonSecretNotFound),
			Message: `creating: secret "knative-eventing/auth": secret not found`},
	}, {
		name: "credentials the cluster refuses are False, not on their way",
		v:    view{generation: 2},
		st: contract.Status{Generation: 2, Ingresses: map[string]contract.ServingStatus{
			"b-uid": {Reason: string(kafkaconn.ReasonSASLAuthenticationFailed), Message: "refused"}}},
		o:    broker,
		want: Condition{Type: ConditionReady, Status: StatusFalse, Reason: string(kafkaconn.ReasonSASLAuthenticationFailed), Message: "refused"},
	}, {
		name: "an egress the data plane does not list is Unknown",
		v:    view{generation: 2}, st: contract.Status{Generation: 2}, o: trigger,
		want: Condition{Type: ConditionReady, Status: StatusUnknown, Reason: ReasonNotServed, Message: "the data plane does not serve it yet"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, readyOf(tt.v, tt.st, tt.o)); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResourcesOfReportsBadFiles(t *testing.T) {
	v := view{
		plan:       &Plan{Objects: []Object{{Kind: contract.KindBroker, Namespace: "default", Name: "b", UID: "b-uid", Address: "http://i/default/b"}}},
		generation: 1,
		fileErrs:   map[string]error{"/r/broker.yaml": errors.New("line 3: bad"), "/r/new.yaml": errors.New("no kind")},
		origins:    map[string]string{"b-uid": "/r/broker.yaml"},
	}
	st := contract.Status{Generation: 1, Ingresses: map[string]contract.ServingStatus{"b-uid": {Ready: true}}}
	got := resourcesOf(v, st)
	want := []Resource{{
		Kind: "Broker", Namespace: "default", Name: "b", Address: "http://i/default/b",
		Conditions: []Condition{
			{Type: ConditionReady, Status: StatusTrue},
			{Type: ConditionLoaded, Status: StatusFalse, Reason: ReasonFileInvalid, Message: "/r/broker.yaml: line 3: bad (the last good version keeps running)"},
		},
	}, {
		Kind: KindFile, Name: "/r/new.yaml",
		Conditions: []Condition{
			{Type: ConditionReady, Status: StatusFalse, Reason: ReasonFileInvalid, Message: "/r/new.yaml: no kind"},
			{Type: ConditionLoaded, Status: StatusFalse, Reason: ReasonFileInvalid, Message: "/r/new.yaml: no kind"},
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	tbl := table(got)
	for _, line := range []string{"KIND", "Broker", "File"} {
		if !strings.Contains(tbl, line) {
			t.Errorf("table misses %q:\n%s", line, tbl)
		}
	}
	if f := strings.Fields(strings.Split(tbl, "\n")[1]); len(f) < 5 || f[3] != "True" || f[4] != "FileInvalid" {
		t.Errorf("the broker's row does not say it runs a stale file:\n%s", tbl)
	}
}
