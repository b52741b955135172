package dataplanestatus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"knkafka.dev/control-plane/pkg/contract"
)

var (
	ready    = contract.ServingStatus{Ready: true}
	joining  = contract.ServingStatus{Reason: "JoiningGroup", Message: "joining"}
	notThere = contract.ServingStatus{Reason: "NotApplied", Message: "a data-plane instance does not serve it yet"}
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		in   []contract.Status
		want contract.Status
	}{{
		name: "one instance is taken as it is",
		in:   []contract.Status{{Generation: 4, Ingresses: map[string]contract.ServingStatus{"b": ready}, Egresses: map[string]contract.ServingStatus{"t": joining}}},
		want: contract.Status{Generation: 4, Ingresses: map[string]contract.ServingStatus{"b": ready}, Egresses: map[string]contract.ServingStatus{"t": joining}},
	}, {
		name: "the lowest generation wins and one unready replica makes the egress unready",
		in: []contract.Status{
			{Generation: 5, Egresses: map[string]contract.ServingStatus{"t": ready}},
			{Generation: 4, Egresses: map[string]contract.ServingStatus{"t": joining}},
		},
		want: contract.Status{Generation: 4, Ingresses: map[string]contract.ServingStatus{}, Egresses: map[string]contract.ServingStatus{"t": joining}},
	}, {
		name: "an instance without the egress has not applied it",
		in: []contract.Status{
			{Generation: 5, Egresses: map[string]contract.ServingStatus{"t": ready}},
			{Generation: 5, Egresses: map[string]contract.ServingStatus{}},
		},
		want: contract.Status{Generation: 5, Ingresses: map[string]contract.ServingStatus{}, Egresses: map[string]contract.ServingStatus{"t": notThere}},
	}, {
		name: "an ingress-only instance has no say on egresses",
		in: []contract.Status{
			{Generation: 5, Ingresses: map[string]contract.ServingStatus{"b": ready}},
			{Generation: 5, Egresses: map[string]contract.ServingStatus{"t": ready}},
		},
		want: contract.Status{Generation: 5, Ingresses: map[string]contract.ServingStatus{"b": ready}, Egresses: map[string]contract.ServingStatus{"t": ready}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Merge(tc.in...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func serve(t *testing.T, st contract.Status, code int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != contract.StatusPath {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestReaderAsksEveryInstance(t *testing.T) {
	a := serve(t, contract.Status{Generation: 3, Egresses: map[string]contract.ServingStatus{"t": ready}}, http.StatusOK)
	b := serve(t, contract.Status{Generation: 2, Egresses: map[string]contract.ServingStatus{"t": ready}}, http.StatusOK)
	st, err := NewReader(Static(a, b), 0).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != 2 || !st.Egresses["t"].Ready {
		t.Errorf("merged status %+v, want generation 2 with t ready", st)
	}
}

func TestReaderFailsWhenAnInstanceDoesNotAnswer(t *testing.T) {
	a := serve(t, contract.Status{Generation: 3}, http.StatusOK)
	broken := serve(t, contract.Status{}, http.StatusInternalServerError)
	if _, err := NewReader(Static(a, broken), 0).Status(context.Background()); err == nil {
		t.Error("no error although one instance answered 500")
	}
	if _, err := NewReader(Static(), 0).Status(context.Background()); err == nil {
		t.Error("no error with no data-plane instance at all")
	}
}

func TestFromEndpointSlicesListsReadyPodsOnce(t *testing.T) {
	yes, no := true, false
	client := kubefake.NewClientset(
		&discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "ingress-abc",
				Labels: map[string]string{discoveryv1.LabelServiceName: "kafka-broker-ingress"}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
				{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
			},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "dispatcher-abc",
				Labels: map[string]string{discoveryv1.LabelServiceName: "kafka-broker-dispatcher"}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.3"}},
				{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			},
		},
	)
	got, err := FromEndpointSlices(client, "knative-eventing", []string{"kafka-broker-ingress", "kafka-broker-dispatcher"}, 9090)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://10.0.0.1:9090", "http://10.0.0.3:9090"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
