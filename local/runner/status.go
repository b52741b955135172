package runner

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

// Condition types and statuses of a Resource, as in Knative.
const (
	ConditionReady  = "Ready"
	ConditionLoaded = "Loaded"

	StatusTrue    = "True"
	StatusFalse   = "False"
	StatusUnknown = "Unknown"

	// KindFile is the kind of a Resource that stands for a file that could not be read and held
	// nothing good before.
	KindFile = "File"

	ReasonFileInvalid     = "FileInvalid"
	ReasonNotApplied      = "ContractNotApplied"
	ReasonNotServed       = "NotServed"
	reasonDataPlaneFailed = "DataPlaneNotReady"
)

// Resource is one object as GET /resources reports it.
type Resource struct {
	Kind       string      `json:"kind"`
	Namespace  string      `json:"namespace,omitempty"`
	Name       string      `json:"name"`
	Conditions []Condition `json:"conditions"`
	Address    string      `json:"address,omitempty"`
}

// Condition is a Knative-style condition.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Ready returns r's Ready condition.
func (r Resource) Ready() Condition {
	for _, c := range r.Conditions {
		if c.Type == ConditionReady {
			return c
		}
	}
	return Condition{Type: ConditionReady, Status: StatusUnknown}
}

// view is what the status of the objects is computed from.
type view struct {
	plan *Plan
	// generation is the generation of plan's contract; applyErr why it was not applied.
	generation uint64
	applyErr   error
	// topicErrs are the topic errors by owner UID.
	topicErrs map[string]error
	// fileErrs are the errors of the files that could not be read, by path; origins the file of
	// every object by UID.
	fileErrs map[string]error
	origins  map[string]string
}

// resourcesOf reports every object of v with what the data plane says in st.
func resourcesOf(v view, st contract.Status) []Resource {
	var out []Resource
	if v.plan != nil {
		for _, o := range v.plan.Objects {
			r := Resource{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Address: o.Address}
			r.Conditions = append(r.Conditions, readyOf(v, st, o))
			loaded := Condition{Type: ConditionLoaded, Status: StatusTrue}
			if path := v.origins[o.UID]; v.fileErrs[path] != nil {
				loaded = Condition{Type: ConditionLoaded, Status: StatusFalse, Reason: ReasonFileInvalid,
					Message: fmt.Sprintf("%s: %v (the last good version keeps running)", path, v.fileErrs[path])}
			}
			r.Conditions = append(r.Conditions, loaded)
			out = append(out, r)
		}
	}
	held := map[string]bool{}
	for _, path := range v.origins {
		held[path] = true
	}
	for _, path := range slices.Sorted(maps.Keys(v.fileErrs)) {
		if held[path] {
			continue
		}
		msg := fmt.Sprintf("%s: %v", path, v.fileErrs[path])
		out = append(out, Resource{Kind: KindFile, Name: path, Conditions: []Condition{
			{Type: ConditionReady, Status: StatusFalse, Reason: ReasonFileInvalid, Message: msg},
			{Type: ConditionLoaded, Status: StatusFalse, Reason: ReasonFileInvalid, Message: msg},
		}})
	}
	return out
}

func readyOf(v view, st contract.Status, o Object) Condition {
	notReady := func(status, reason, msg string) Condition {
		return Condition{Type: ConditionReady, Status: status, Reason: reason, Message: msg}
	}
	if o.Problem != nil {
		return notReady(StatusFalse, o.Problem.Reason, o.Problem.Message)
	}
	for _, uid := range []string{o.UID, o.Parent} {
		if err := v.topicErrs[uid]; uid != "" && err != nil {
			reason := ReasonTopicNotReady
			if r, ok := kafkaconn.ReasonOf(err); ok {
				reason = string(r) // the credentials, not the topic, are what to fix
			}
			return notReady(StatusFalse, reason, err.Error())
		}
	}
	if v.applyErr != nil {
		return notReady(StatusFalse, reasonDataPlaneFailed, v.applyErr.Error())
	}
	if st.Generation != v.generation {
		return notReady(StatusUnknown, ReasonNotApplied, fmt.Sprintf("the data plane serves generation %d, not %d yet", st.Generation, v.generation))
	}
	served := st.Ingresses
	if o.Kind == contract.KindTrigger || o.Kind == contract.KindSubscription || o.Kind == contract.KindKafkaSource {
		served = st.Egresses
	}
	s, ok := served[o.UID]
	switch {
	case !ok:
		return notReady(StatusUnknown, ReasonNotServed, "the data plane does not serve it yet")
	case !s.Ready && credentialsReason(s.Reason):
		return notReady(StatusFalse, s.Reason, s.Message)
	case !s.Ready:
		return notReady(StatusUnknown, s.Reason, s.Message)
	}
	return Condition{Type: ConditionReady, Status: StatusTrue}
}

// credentialsReason says whether the data plane's reason is a Secret or the credentials it
// holds (kafkaconn's reasons): a problem to fix, False, rather than work on its way.
func credentialsReason(reason string) bool {
	switch kafkaconn.Reason(reason) {
	case kafkaconn.ReasonSecretNotFound, kafkaconn.ReasonSecretKeyMissing, kafkaconn.ReasonSecretValueInvalid,
		kafkaconn.ReasonProtocolUnsupported, kafkaconn.ReasonSASLMechanismUnsupported, kafkaconn.ReasonOAuthBearerUnsupported,
		kafkaconn.ReasonCertificateInvalid, kafkaconn.ReasonPrivateKeyInvalid, kafkaconn.ReasonSASLAuthenticationFailed,
		kafkaconn.ReasonServerCertificateUntrusted, kafkaconn.ReasonTLSHandshakeFailed:
		return true
	}
	return false
}

// table renders rs as the KIND NAMESPACE NAME READY REASON ADDRESS table.
func table(rs []Resource) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tREADY\tREASON\tADDRESS")
	for _, r := range rs {
		ready := r.Ready()
		reason := ready.Reason
		for _, c := range r.Conditions {
			if c.Type == ConditionLoaded && c.Status != StatusTrue && reason == "" {
				reason = c.Reason
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, dash(r.Namespace), r.Name, ready.Status, dash(reason), dash(r.Address))
	}
	_ = w.Flush()
	return buf.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
