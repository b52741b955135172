package contract

// Status is what a data plane instance reports on its status endpoint: the contract generation it
// has applied and, per ingress and egress, whether it really serves it. The control plane reads it
// to mark objects Ready only when events sent from then on will be delivered.
type Status struct {
	// Generation is the generation of the last contract applied.
	Generation uint64 `json:"generation"`
	// Ingresses are keyed by resource UID; nil when the instance does not run the ingress.
	Ingresses map[string]ServingStatus `json:"ingresses"`
	// Egresses are keyed by egress UID; nil when the instance does not run the dispatcher.
	Egresses map[string]ServingStatus `json:"egresses"`
}

// ServingStatus says whether one ingress or egress is served and, if not, why.
type ServingStatus struct {
	Ready bool `json:"ready"`
	// Reason is a CamelCase word when not ready (for example "JoiningGroup", "TopicNotFound").
	Reason string `json:"reason,omitempty"`
	// Message explains Reason for people.
	Message string `json:"message,omitempty"`
}

// StatusPath is the HTTP path of the data plane's status endpoint.
const StatusPath = "/status"
