// Package serving decides whether the data plane serves an object's current routing-contract
// entry, which is what Ready means for every kind knkafka reconciles. Check compares the contract
// generation that carries the entry (Publisher, the contract store) with the generation every
// data-plane instance applied, then reads the ingress or egress status the data plane reported.
// The Broker, Trigger, KafkaChannel and KafkaSource reconcilers all call it, so the rule and its
// reasons cannot drift apart between kinds.
package serving

import (
	"fmt"

	"knkafka.dev/control-plane/pkg/contract"
)

// Publisher tells in which contract generation an entry was published.
type Publisher interface {
	// Published is the contract generation in which uid's current entry was published; false
	// while it is not published yet.
	Published(uid string) (generation uint64, ok bool)
}

// Role is the part of the data plane an entry is served by.
type Role int

const (
	// Ingress serves resources: brokers and channels accepting events.
	Ingress Role = iota
	// Egress serves egresses: triggers, subscriptions and sources delivering events.
	Egress
)

// Reasons of a Verdict that is not served; the data plane's own reason is used when it gave one.
const (
	ReasonContractNotPublished  = "ContractNotPublished"
	ReasonDataPlaneUnreachable  = "DataPlaneUnreachable"
	ReasonContractNotApplied    = "ContractNotApplied"
	ReasonIngressNotReady       = "IngressNotReady"
	ReasonConsumerGroupNotReady = "ConsumerGroupNotReady"
)

// Verdict says whether an entry is served and, if not, why (a CamelCase reason and a sentence).
type Verdict struct {
	Served  bool
	Reason  string
	Message string
}

// Check reports whether every data-plane instance applied the contract generation holding uid's
// current entry and reports it ready in role. status and statusErr are the data plane's merged
// status and the error reading it (callers checking many entries read it once); what names the
// object in messages ("trigger", "channel", "source").
func Check(p Publisher, status contract.Status, statusErr error, role Role, uid, what string) Verdict {
	generation, published := p.Published(uid)
	switch {
	case !published:
		return Verdict{Reason: ReasonContractNotPublished, Message: fmt.Sprintf("the %s's contract entry is not published yet", what)}
	case statusErr != nil:
		return Verdict{Reason: ReasonDataPlaneUnreachable, Message: statusErr.Error()}
	case status.Generation < generation:
		return Verdict{Reason: ReasonContractNotApplied, Message: fmt.Sprintf(
			"the data plane applied contract generation %d; the %s is in generation %d", status.Generation, what, generation)}
	}
	entries, fallback, part := status.Egresses, ReasonConsumerGroupNotReady, "dispatcher"
	if role == Ingress {
		entries, fallback, part = status.Ingresses, ReasonIngressNotReady, "ingress"
	}
	s := entries[uid]
	switch {
	case s.Ready:
		return Verdict{Served: true}
	case s.Reason == "":
		return Verdict{Reason: fallback, Message: fmt.Sprintf("the %s does not serve the %s yet", part, what)}
	default:
		return Verdict{Reason: s.Reason, Message: s.Message}
	}
}

// ReasonDataPlaneStillServing says a data-plane instance still runs an egress that was removed
// from the contract.
const ReasonDataPlaneStillServing = "DataPlaneStillServing"

// Released reports whether no data-plane instance runs any of the egresses uids any more, so that
// their consumer groups can be deleted without the data plane committing to them again. The
// dispatcher commits each egress's offsets as a group without members (docs/architecture.md,
// "Shared reads"), so Kafka's "group not empty" no longer tells that the data plane left a group:
// its own status does. An egress stops being reported only once its instance applied a contract
// without it, which includes its last commit. When it is not released, the Verdict says why.
func Released(status contract.Status, statusErr error, uids ...string) Verdict {
	if statusErr != nil {
		return Verdict{Reason: ReasonDataPlaneUnreachable, Message: statusErr.Error()}
	}
	for _, uid := range uids {
		if _, running := status.Egresses[uid]; running {
			return Verdict{Reason: ReasonDataPlaneStillServing, Message: fmt.Sprintf("a dispatcher still runs egress %s", uid)}
		}
	}
	return Verdict{Served: true}
}
