// Package kafkasink reconciles KafkaSinks: it reads the Kafka credentials of auth.secret.ref.name,
// creates the sink's topic when the sink owns it (numPartitions and replicationFactor both set)
// or checks that it exists, publishes the sink's routing-contract entry (path, topic, content
// mode) and marks the sink Ready — with its address on the sink ingress — once the data plane
// serves it. Deleting a sink removes its entry and, when it owns the topic, the topic.
// Reconciler holds the logic; NewController wires it to informers and to the collaborators in Deps.
package kafkasink

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/tracker"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/serving"
	"knkafka.dev/kafkaconn"
)

// Kafka is the part of a Kafka cluster the KafkaSink reconciler uses.
type Kafka interface {
	EnsureTopic(ctx context.Context, spec kafka.TopicSpec) error
	TopicExists(ctx context.Context, name string) (bool, error)
	DeleteTopic(ctx context.Context, name string) error
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

// ContractStore holds the routing contract's resources.
type ContractStore interface {
	// SetResource sets a resource's entry.
	SetResource(r contract.Resource)
	// DeleteResource removes a resource.
	DeleteResource(uid string)
	// Published is the contract generation in which uid's current entry was published; false
	// while it is not published yet.
	Published(uid string) (generation uint64, ok bool)
}

// DataPlane reports what the data plane serves.
type DataPlane interface {
	Status(ctx context.Context) (contract.Status, error)
}

// Reasons of conditions and events. A Secret that cannot be used, or credentials the cluster
// refuses, give the kafkaconn.Reason (SecretNotFound, SecretKeyMissing, SASLAuthenticationFailed,
// ...) instead.
const (
	ReasonKafkaUnavailable     = "KafkaUnavailable"
	ReasonTopicCreateFailed    = "TopicCreateFailed"
	ReasonTopicNotFound        = "TopicNotFound"
	ReasonTopicPartitions      = "TopicPartitionsMismatch"
	ReasonContractNotPublished = serving.ReasonContractNotPublished
	ReasonDataPlaneUnreachable = serving.ReasonDataPlaneUnreachable
	ReasonContractNotApplied   = serving.ReasonContractNotApplied
	ReasonIngressNotReady      = serving.ReasonIngressNotReady
	ReasonTopicNotDeleted      = "TopicNotDeleted"
)

// Reconciler reconciles KafkaSinks.
type Reconciler struct {
	credentials kafka.Credentials
	tracker     tracker.Interface
	kafka       KafkaFunc
	contract    ContractStore
	dataPlane   DataPlane
	// ingressHost is the host of sink addresses; empty means contractbuild.DefaultSinkIngressHost.
	ingressHost string
	// pollInterval is how soon a sink is looked at again while the data plane catches up.
	pollInterval time.Duration
}

// ReconcileKind makes ks's topic and contract entry match ks, and reports ks Ready once served.
func (r *Reconciler) ReconcileKind(ctx context.Context, ks *eventingv1alpha1.KafkaSink) pkgreconciler.Event {
	// 1. Read the Kafka credentials of auth.secret.ref.name.             → ConfigParsed
	// 2. Create the topic when the sink owns it, else check it exists.   → TopicReady
	// 3. Set the sink's contract entry.
	// 4. Wait until the data plane serves it, then publish the address.
	//    → ConfigMapUpdated, DataPlaneAvailable, ProbeSucceeded, Addressable
	//
	// When the credentials are unusable (1) or refused by the cluster (2), the entry is set all
	// the same: it holds only the Secret's name, so the data plane reads the same Secret, fails
	// the same way (the ingress answers 503 for this sink) and recovers by itself once the
	// Secret is fixed.
	ks.Status.InitializeConditions()
	resource := contractbuild.SinkResource(ks, r.ingressHost)
	sec, event := r.security(ks)
	if event != nil {
		r.contract.SetResource(resource)
		return event
	}
	ks.Status.MarkConfigParsed()
	if event, refused := r.topic(ctx, ks, resource.BootstrapServers, sec, resource.Origin()); event != nil {
		if refused {
			r.contract.SetResource(resource)
		}
		return event
	}
	r.contract.SetResource(resource)
	return r.served(ctx, ks)
}

// security tracks and reads the sink's auth Secret (in the sink's namespace). A Secret that is
// missing or unusable marks ConfigParsed False with the kafkaconn reason; the event is not
// retried: the tracker requeues ks when the Secret changes.
func (r *Reconciler) security(ks *eventingv1alpha1.KafkaSink) (*kafkaconn.Security, pkgreconciler.Event) {
	name := ks.Spec.AuthSecretName()
	if name == "" {
		return nil, nil
	}
	ref := tracker.Reference{APIVersion: "v1", Kind: "Secret", Namespace: ks.Namespace, Name: name}
	if err := r.tracker.TrackReference(ref, ks); err != nil {
		return nil, fmt.Errorf("tracking Secret %s/%s: %w", ks.Namespace, name, err)
	}
	sec, err := r.credentials.Secret(ks.Namespace, name)
	if err != nil {
		reason, ok := kafkaconn.ReasonOf(err)
		if !ok {
			return nil, fmt.Errorf("reading the Kafka credentials: %w", err)
		}
		ks.Status.MarkConfigFailed(string(reason), "%v", err)
		return nil, pkgreconciler.NewEvent(corev1.EventTypeWarning, string(reason), "%v", err)
	}
	return sec, nil
}

// topic creates an owned topic or checks that an external one exists. It returns an event for
// what the user must fix and an event wrapped in an error (recorded and retried with backoff)
// for what may pass. refused reports that the cluster refused the credentials (a kafkaconn
// reason): TopicReady then carries that reason.
func (r *Reconciler) topic(ctx context.Context, ks *eventingv1alpha1.KafkaSink, servers []string, sec *kafkaconn.Security, origin kafkaconn.Origin) (event pkgreconciler.Event, refused bool) {
	cluster, err := r.kafka(servers, sec)
	if err != nil {
		ks.Status.MarkTopicFailed(ReasonKafkaUnavailable, "%v", err)
		return retry(ReasonKafkaUnavailable, "connecting to Kafka %v: %v", servers, err), false
	}
	if ks.Spec.OwnsTopic() {
		return r.ensureTopic(ctx, ks, cluster, origin)
	}
	topic := ks.Spec.Topic
	exists, err := cluster.TopicExists(ctx, topic)
	if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
		ks.Status.MarkTopicFailed(string(reason), "checking topic %q: %s", topic, msg)
		return retry(string(reason), "checking topic %q: %s", topic, msg), true
	}
	switch {
	case err != nil:
		ks.Status.MarkTopicFailed(ReasonKafkaUnavailable, "checking topic %q: %v", topic, err)
		return retry(ReasonKafkaUnavailable, "checking topic %q: %v", topic, err), false
	case !exists:
		// Retried: someone may create the topic, and no object we watch would tell us.
		ks.Status.MarkTopicFailed(ReasonTopicNotFound, "topic %q does not exist; create it, or set numPartitions and replicationFactor to have the sink create it", topic)
		return retry(ReasonTopicNotFound, "topic %q does not exist", topic), false
	}
	ks.Status.MarkTopicReady(topic, false)
	return nil, false
}

func (r *Reconciler) ensureTopic(ctx context.Context, ks *eventingv1alpha1.KafkaSink, cluster Kafka, origin kafkaconn.Origin) (event pkgreconciler.Event, refused bool) {
	spec := kafka.TopicSpec{Name: ks.Spec.Topic, Partitions: *ks.Spec.NumPartitions, ReplicationFactor: *ks.Spec.ReplicationFactor}
	if err := cluster.EnsureTopic(ctx, spec); err != nil {
		if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
			// Retried: the cluster's users or CA may change without any object we watch changing.
			ks.Status.MarkTopicFailed(string(reason), "%s", msg)
			return retry(string(reason), "%s", msg), true
		}
		switch {
		case kafka.IsPartitionsMismatch(err):
			ks.Status.MarkTopicFailed(ReasonTopicPartitions, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicPartitions, "%v", err), false
		case kafka.IsInvalidTopicSpec(err), kafka.IsUnauthorized(err):
			ks.Status.MarkTopicFailed(ReasonTopicCreateFailed, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicCreateFailed, "%v", err), false
		default:
			ks.Status.MarkTopicFailed(ReasonTopicCreateFailed, "%v", err)
			return retry(ReasonTopicCreateFailed, "%v", err), false
		}
	}
	ks.Status.MarkTopicReady(ks.Spec.Topic, true)
	return nil, false
}

// served reports, condition by condition, how far the sink's entry got — published in the
// contract, applied by every ingress instance, served by them — and publishes the address once
// it is served; until then it requeues ks.
func (r *Reconciler) served(ctx context.Context, ks *eventingv1alpha1.KafkaSink) pkgreconciler.Event {
	uid := string(ks.UID)
	status, err := r.dataPlane.Status(ctx)
	if err != nil {
		logging.FromContext(ctx).Desugar().Info("data plane status unavailable", zap.String("resource", uid), zap.Error(err))
	}
	v := serving.Check(r.contract, status, err, serving.Ingress, uid, "sink")
	if v.Served {
		ks.Status.MarkConfigMapUpdated()
		ks.Status.MarkDataPlaneAvailable()
		ks.Status.MarkProbeSucceeded()
		ks.Status.SetAddress(contractbuild.SinkAddress(ks, r.ingressHost))
		return nil
	}
	switch v.Reason {
	case serving.ReasonContractNotPublished:
		ks.Status.MarkConfigMapUnknown(v.Reason, "%s", v.Message)
	case serving.ReasonDataPlaneUnreachable, serving.ReasonContractNotApplied:
		ks.Status.MarkConfigMapUpdated()
		ks.Status.MarkDataPlaneUnknown(v.Reason, "%s", v.Message)
	default:
		ks.Status.MarkConfigMapUpdated()
		ks.Status.MarkDataPlaneAvailable()
		ks.Status.MarkProbeUnknown(v.Reason, "%s", v.Message)
	}
	return controller.NewRequeueAfter(r.pollInterval)
}

// FinalizeKind removes ks's contract entry and, when ks owns its topic, deletes the topic once no
// ingress serves the sink any more (so no request in flight writes to — or, on a cluster that
// auto-creates topics, re-creates — the deleted topic).
func (r *Reconciler) FinalizeKind(ctx context.Context, ks *eventingv1alpha1.KafkaSink) pkgreconciler.Event {
	// 1. Remove the sink from the contract.
	// 2. Keep an external topic.
	// 3. Wait until the data plane dropped the sink's ingress.
	// 4. Find the Kafka cluster; without usable credentials there is nothing we can delete.
	// 5. Delete the topic.
	r.contract.DeleteResource(string(ks.UID))
	if !ks.Spec.OwnsTopic() {
		return nil
	}
	if status, err := r.dataPlane.Status(ctx); err == nil {
		if _, still := status.Ingresses[string(ks.UID)]; still {
			return controller.NewRequeueAfter(r.pollInterval)
		}
	}
	topic := ks.Spec.Topic
	sec, err := r.credentials.Secret(ks.Namespace, ks.Spec.AuthSecretName())
	if _, unusable := kafkaconn.ReasonOf(err); unusable {
		logging.FromContext(ctx).Desugar().Warn("the sink's Kafka Secret is gone or invalid: leaving its topic in Kafka",
			zap.String("resource", string(ks.UID)), zap.String("topic", topic))
		controller.GetEventRecorder(ctx).Eventf(ks, corev1.EventTypeWarning, ReasonTopicNotDeleted,
			"the sink's Kafka Secret is gone or invalid: topic %q is left in Kafka", topic)
		return nil
	} else if err != nil {
		return fmt.Errorf("reading the Kafka credentials: %w", err)
	}
	servers := contractbuild.SinkResource(ks, r.ingressHost).BootstrapServers
	cluster, err := r.kafka(servers, sec)
	if err != nil {
		return fmt.Errorf("connecting to Kafka %v: %w", servers, err)
	}
	if err := cluster.DeleteTopic(ctx, topic); err != nil {
		return fmt.Errorf("deleting topic %q: %w", topic, err)
	}
	return nil
}

// retry is an event that is recorded and also retried with backoff.
func retry(reason, format string, args ...any) error {
	return fmt.Errorf("%w", pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, format, args...))
}
