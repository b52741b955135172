// Package kafkasource reconciles KafkaSources: it checks the source's configuration and the Kafka
// credentials of its spec.net, resolves its sink and dead-letter sink, sets its routing-contract
// entry (a resource reading spec.topics with one egress that delivers to the sink), checks that
// the cluster accepts the credentials, and marks the source Ready once every dispatcher's
// consumer group for it has joined and fixed its start offsets. Reconciler holds the logic;
// NewController wires it to the informer and to Deps.
package kafkasource

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/tracker"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/serving"
	"knkafka.dev/kafkaconn"
)

// Kafka is the part of a Kafka cluster the KafkaSource reconciler uses.
type Kafka interface {
	// Ping fails when the cluster cannot be reached or refuses the credentials.
	Ping(ctx context.Context) error
}

// KafkaFunc returns the cluster with the given bootstrap servers, reached with sec (nil for
// PLAINTEXT).
type KafkaFunc func(servers []string, sec *kafkaconn.Security) (Kafka, error)

// KafkaFrom serves clusters from a client cache.
func KafkaFrom(clients *kafka.Clients) KafkaFunc {
	return func(servers []string, sec *kafkaconn.Security) (Kafka, error) {
		admin, err := clients.Admin(servers, sec)
		if err != nil {
			return nil, err
		}
		return admin, nil
	}
}

// pingTimeout bounds the credentials check, so an unreachable cluster does not hold a worker.
const pingTimeout = 15 * time.Second

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

// Reasons of conditions and events. Secrets of spec.net that cannot be used, or credentials the
// cluster refuses, give the kafkaconn.Reason (SecretNotFound, SecretKeyMissing,
// SASLAuthenticationFailed, OAuthBearerUnsupported, ...) instead.
const (
	// ReasonInvalidConfiguration: the spec cannot be turned into a contract entry.
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonSinkNotFound: spec.sink does not resolve (Knative's sources say NotFound).
	ReasonSinkNotFound = "NotFound"
	// ReasonDeadLetterSinkFailed: spec.delivery.deadLetterSink does not resolve.
	ReasonDeadLetterSinkFailed = "DeadLetterSinkResolveFailed"
)

// Reconciler reconciles KafkaSources.
type Reconciler struct {
	// credentials reads the Secrets of spec.net; tracker requeues a source when one changes.
	credentials kafka.Credentials
	tracker     tracker.Interface
	kafka       KafkaFunc
	contract    ContractStore
	dataPlane   DataPlane
	resolver    *resolver.URIResolver
	// pollInterval is how soon a source is looked at again while the data plane catches up.
	pollInterval time.Duration
}

// ReconcileKind sets ks's contract entry and reports ks Ready once the data plane serves it.
func (r *Reconciler) ReconcileKind(ctx context.Context, ks *sourcesv1beta1.KafkaSource) pkgreconciler.Event {
	// 1. Report the type and sources of the events ks emits.           → status.ceAttributes
	// 2. Check the configuration; an unusable one leaves the contract.  → ConfigParsed
	// 3. Read the Secrets of spec.net.                                  → ConfigParsed
	// 4. Resolve the sink.                                              → SinkProvided, status.sinkUri
	// 5. Resolve the dead-letter sink of spec.delivery.                 → DeadLetterSinkResolved
	// 6. Build the contract entry and set it.
	// 7. Check that the cluster accepts the credentials.                → ConsumerGroup
	// 8. Wait until every dispatcher serves its egress.                 → ConsumerGroup
	//
	// Unusable credentials (3) or credentials the cluster refuses (7) do not take the entry out
	// of the contract: it holds only references to the Secrets, so the dispatchers read the same
	// Secrets, fail the same way (never falling back to plaintext) and resume by themselves once
	// the Secrets are fixed.
	ks.Status.InitializeConditions()
	ks.Status.CloudEventAttributes = ks.CloudEventAttributes()
	if event := r.config(ks); event != nil {
		return event
	}
	sec, unusable, err := r.security(ks)
	if err != nil {
		return err
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
	if unusable != nil {
		return unusable
	}
	if event := r.connect(ctx, ks, sec); event != nil {
		return event
	}
	return r.served(ctx, ks)
}

// security tracks and reads the Secrets of ks's spec.net. Unusable credentials mark ConfigParsed
// and ConsumerGroup False with the kafkaconn reason and come back as unusable, an event that is
// not retried (the tracker requeues ks when a Secret changes); err is a failure to read them.
func (r *Reconciler) security(ks *sourcesv1beta1.KafkaSource) (sec *kafkaconn.Security, unusable pkgreconciler.Event, err error) {
	n := contractbuild.SourceNet(ks)
	if n == nil {
		return nil, nil, nil
	}
	for _, name := range n.Secrets() {
		ref := tracker.Reference{APIVersion: "v1", Kind: "Secret", Namespace: ks.Namespace, Name: name}
		if err := r.tracker.TrackReference(ref, ks); err != nil {
			return nil, nil, fmt.Errorf("tracking Secret %s/%s: %w", ks.Namespace, name, err)
		}
	}
	sec, err = r.credentials.Net(ks.Namespace, n)
	if err != nil {
		reason, ok := kafkaconn.ReasonOf(err)
		if !ok {
			return nil, nil, fmt.Errorf("reading the Kafka credentials: %w", err)
		}
		// ConfigParsed last: Ready takes the message of the condition marked last, and this one
		// names the Secret and key.
		ks.Status.MarkConsumerGroupFailed(string(reason), "the source is not consumed while its Kafka credentials are unusable")
		ks.Status.MarkConfigFailed(string(reason), "%v", err)
		return nil, pkgreconciler.NewEvent(corev1.EventTypeWarning, string(reason), "%v", err), nil
	}
	return sec, nil, nil
}

// connect asks the cluster for its brokers with ks's credentials. A refusal (kafkaconn.ReasonOf:
// wrong password, untrusted certificate, ...) marks ConsumerGroup False with its reason and is
// retried; any other failure is left to the dispatchers' status, which served reads.
func (r *Reconciler) connect(ctx context.Context, ks *sourcesv1beta1.KafkaSource, sec *kafkaconn.Security) pkgreconciler.Event {
	cluster, err := r.kafka(ks.Spec.BootstrapServers, sec)
	if err == nil {
		pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
		err = cluster.Ping(pingCtx)
		cancel()
	}
	if reason, msg, ok := kafkaconn.Refusal(kafkaconn.Origin{Net: contractbuild.SourceNet(ks), Namespace: ks.Namespace}, err); ok {
		ks.Status.MarkConsumerGroupFailed(string(reason), "%s", msg)
		return retry(string(reason), "%s", msg)
	} else if err != nil {
		logging.FromContext(ctx).Desugar().Info("Kafka did not answer the credentials check",
			zap.String("egress", string(ks.UID)), zap.Error(err))
	}
	return nil
}

// config checks what does not depend on the sink or the Secrets. A source whose spec cannot be
// consumed as it is is taken out of the contract, so a source that was running does not go on
// reading with its previous settings.
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
	// The scale subresource's status replicas, as the incumbent reports its placed consumers:
	// once served, the consumers asked for are in effect (every dispatcher replica consumes the
	// group on their behalf), so `kubectl scale` and autoscalers see their change take hold.
	ks.Status.Consumers = sourcesv1beta1.DefaultConsumers
	if ks.Spec.Consumers != nil {
		ks.Status.Consumers = *ks.Spec.Consumers
	}
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
