// Package kafkasource reconciles KafkaSources: it checks the source's configuration, resolves its
// sink and dead-letter sink, sets its routing-contract entry (a resource reading spec.topics with
// one egress that delivers to the sink) and marks the source Ready once every dispatcher's
// consumer group for it has joined and fixed its start offsets. Reconciler holds the logic;
// NewController wires it to the informer and to Deps.
package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/serving"
)

// ContractStore holds the routing contract's resources and egresses.
type ContractStore interface {
	// SetResource sets a resource's entry (r.Egresses is ignored).
	SetResource(r contract.Resource)
	// SetEgress sets an egress of the resource resourceUID.
	SetEgress(resourceUID string, e contract.Egress)
	// DeleteResource removes a resource with its egresses; removing an absent one does nothing.
	DeleteResource(uid string)
	serving.Publisher
}

// DataPlane reports what the data plane serves.
type DataPlane interface {
	Status(ctx context.Context) (contract.Status, error)
}

// Reasons of conditions and events.
const (
	// ReasonSecurityNotSupported: the source enables SASL or TLS, which sources do not support yet.
	ReasonSecurityNotSupported = "SecurityNotSupported"
	// ReasonInvalidConfiguration: the spec cannot be turned into a contract entry.
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonSinkNotFound: spec.sink does not resolve (Knative's sources say NotFound).
	ReasonSinkNotFound = "NotFound"
	// ReasonDeadLetterSinkFailed: spec.delivery.deadLetterSink does not resolve.
	ReasonDeadLetterSinkFailed = "DeadLetterSinkResolveFailed"
)

// Reconciler reconciles KafkaSources.
type Reconciler struct {
	contract  ContractStore
	dataPlane DataPlane
	resolver  *resolver.URIResolver
	// pollInterval is how soon a source is looked at again while the data plane catches up.
	pollInterval time.Duration
}

// ReconcileKind sets ks's contract entry and reports ks Ready once the data plane serves it.
func (r *Reconciler) ReconcileKind(ctx context.Context, ks *sourcesv1beta1.KafkaSource) pkgreconciler.Event {
	// 1. Report the type and sources of the events ks emits.           → status.ceAttributes
	// 2. Check the configuration; an unusable one leaves the contract.  → ConfigParsed
	// 3. Resolve the sink.                                              → SinkProvided, status.sinkUri
	// 4. Resolve the dead-letter sink of spec.delivery.                 → DeadLetterSinkResolved
	// 5. Build the contract entry and set it.
	// 6. Wait until every dispatcher serves its egress.                 → ConsumerGroup
	ks.Status.InitializeConditions()
	ks.Status.CloudEventAttributes = ks.CloudEventAttributes()
	if event := r.config(ks); event != nil {
		return event
	}
	sink, event := r.sink(ctx, ks)
	if event != nil {
		return event
	}
	deadLetter, event := r.deadLetterSink(ctx, ks)
	if event != nil {
		return event
	}
	resource, err := contractbuild.SourceResource(ks, sink, deadLetter)
	if err != nil {
		return r.refuse(ks, err)
	}
	r.set(resource)
	return r.served(ctx, ks)
}

// config checks what does not depend on the sink. A source that cannot be consumed as it is
// (SASL/TLS, an invalid spec) is taken out of the contract, so a source that was running does not
// go on reading with its previous settings — and never in plaintext instead of securely.
func (r *Reconciler) config(ks *sourcesv1beta1.KafkaSource) pkgreconciler.Event {
	if err := contractbuild.CheckSource(ks); err != nil {
		return r.refuse(ks, err)
	}
	ks.Status.MarkConfigParsed()
	return nil
}

// refuse marks ks unusable as configured and removes its entry. The event is permanent: only a
// change of ks, which requeues it, can help.
func (r *Reconciler) refuse(ks *sourcesv1beta1.KafkaSource, err error) pkgreconciler.Event {
	reason := ReasonInvalidConfiguration
	if errors.Is(err, contractbuild.ErrSourceSecurityNotSupported) {
		reason = ReasonSecurityNotSupported
	}
	r.contract.DeleteResource(string(ks.UID))
	ks.Status.MarkConfigFailed(reason, "%v", err)
	ks.Status.MarkConsumerGroupFailed(reason, "the source is not consumed while its configuration is unusable")
	return pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, "%v", err)
}

func (r *Reconciler) sink(ctx context.Context, ks *sourcesv1beta1.KafkaSource) (*apis.URL, pkgreconciler.Event) {
	uri, err := r.resolver.URIFromDestinationV1(ctx, ks.Spec.Sink, ks)
	if err != nil {
		ks.Status.MarkNoSink(ReasonSinkNotFound, "%v", err)
		return nil, retry("SinkResolveFailed", "resolving the sink: %v", err)
	}
	ks.Status.MarkSink(uri)
	return uri, nil
}

func (r *Reconciler) deadLetterSink(ctx context.Context, ks *sourcesv1beta1.KafkaSource) (*apis.URL, pkgreconciler.Event) {
	if ks.Spec.Delivery == nil || ks.Spec.Delivery.DeadLetterSink == nil {
		ks.Status.MarkDeadLetterSinkNotConfigured()
		return nil, nil
	}
	uri, err := r.resolver.URIFromDestinationV1(ctx, *ks.Spec.Delivery.DeadLetterSink, ks)
	if err != nil {
		ks.Status.MarkDeadLetterSinkFailed(ReasonDeadLetterSinkFailed, "%v", err)
		return nil, retry(ReasonDeadLetterSinkFailed, "resolving the dead-letter sink: %v", err)
	}
	ks.Status.MarkDeadLetterSinkResolved(uri)
	return uri, nil
}

// set writes the resource and its egresses: the store keeps them apart.
func (r *Reconciler) set(resource contract.Resource) {
	r.contract.SetResource(resource)
	for _, e := range resource.Egresses {
		r.contract.SetEgress(resource.UID, e)
	}
}

// served marks the consumer group ready once every dispatcher applied the contract generation
// holding ks's current entry and reports its egress ready — the group joined and its start
// offsets are committed, so no record written from now on is missed. Until then it requeues ks.
func (r *Reconciler) served(ctx context.Context, ks *sourcesv1beta1.KafkaSource) pkgreconciler.Event {
	uid := string(ks.UID)
	status, err := r.dataPlane.Status(ctx)
	if err != nil {
		logging.FromContext(ctx).Desugar().Info("data plane status unavailable", zap.String("egress", uid), zap.Error(err))
	}
	if v := serving.Check(r.contract, status, err, serving.Egress, uid, "source"); !v.Served {
		ks.Status.MarkConsumerGroupUnknown(v.Reason, "%s", v.Message)
		return controller.NewRequeueAfter(r.pollInterval)
	}
	ks.Status.MarkConsumerGroupReady()
	return nil
}

// FinalizeKind removes ks's contract entry; the dispatchers then leave its consumer group.
// Removing an entry that is not there does nothing, so finalizing twice is harmless.
func (r *Reconciler) FinalizeKind(_ context.Context, ks *sourcesv1beta1.KafkaSource) pkgreconciler.Event {
	r.contract.DeleteResource(string(ks.UID))
	return nil
}

// retry is an event that is recorded and also retried with backoff.
func retry(reason, format string, args ...any) error {
	return fmt.Errorf("%w", pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, format, args...))
}
