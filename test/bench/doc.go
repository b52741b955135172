// Package bench measures knkafka's data plane against real Kafka and puts every figure next to a
// ceiling measured in the same run: the ingress against franz-go producing the same records and a
// bare net/http server under the same vegeta load, the dispatcher against franz-go consuming the
// topic and a bare Go HTTP client posting the same events, plus end-to-end latency, fan-out,
// footprint, reactivity to contract changes and Knative's own in-memory channel as a peer.
//
// Run drives the scenarios (ingress.go, dispatcher.go, e2e.go, fanout.go, footprint.go,
// reactivity.go, peer.go) under a Profile, and Results (results.go) is what they produce: the
// JSON file, the Markdown table (markdown.go) and the plots (plots.go). Processes it starts are
// a Proc (proc.go); the Kafka broker's CPU, the bytes it returned to consumers and the TCP
// connections a process holds to it are read from outside (broker.go); the subscriber is a Sink
// (sink.go); load comes from vegeta (load.go). The helper roles the driver runs as child
// processes — the bare 202 server, the bare HTTP client and the Knative peer — live in helpers.go
// and are reached through the same binary's subcommands.
//
// This is its own Go module so that vegeta and gonum/plot stay out of knkafka's go.mod.
package bench
