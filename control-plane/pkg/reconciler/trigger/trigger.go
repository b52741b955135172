// Package trigger reconciles Triggers of Kafka-class Brokers: it resolves the subscriber and the
// dead-letter sink, sets the Trigger's egress in the routing contract (consumer group, filter,
// merged delivery, order), follows the object of its knative.dev/dependency annotation, and marks
// the Trigger Ready once that object is Ready and the data plane's consumer group for it has
// joined. Reconciler holds the logic; NewController wires it to informers and to Deps.
package trigger

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventinglisters "knative.dev/eventing/pkg/client/listers/eventing/v1"
	"knative.dev/eventing/pkg/duck"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/broker"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
	"knkafka.dev/control-plane/pkg/serving"
)

// ContractStore holds the routing contract's egresses.
type ContractStore interface {
	// SetEgress sets an egress of the resource resourceUID.
	SetEgress(resourceUID string, e contract.Egress)
	// DeleteEgress removes an egress.
	DeleteEgress(resourceUID, egressUID string)
	// Published is the contract generation in which uid's current entry was published; false
	// while it is not published yet.
	Published(uid string) (generation uint64, ok bool)
}

// DataPlane reports what the data plane serves.
type DataPlane interface {
	Status(ctx context.Context) (contract.Status, error)
}

// Reasons of conditions and events; the resolution ones are those of Knative's MT broker.
const (
	ReasonBrokerDoesNotExist    = "BrokerDoesNotExist"
	ReasonFailedToGetBroker     = "FailedToGetBroker"
	ReasonSubscriberFailed      = "Unable to get the Subscriber's URI"
	ReasonDeadLetterSinkFailed  = "Unable to get the dead letter sink's URI"
	ReasonInvalidConfiguration  = "InvalidConfiguration"
	ReasonContractNotPublished  = serving.ReasonContractNotPublished
	ReasonDataPlaneUnreachable  = serving.ReasonDataPlaneUnreachable
	ReasonContractNotApplied    = serving.ReasonContractNotApplied
	ReasonConsumerGroupNotReady = serving.ReasonConsumerGroupNotReady
	ReasonNameTemplateInvalid   = nametemplates.ReasonInvalid
)

// Reconciler reconciles Triggers of Kafka-class Brokers.
type Reconciler struct {
	brokers    eventinglisters.BrokerLister
	configMaps corelisters.ConfigMapLister
	// credentials reads the broker's Kafka auth Secret, needed to delete the consumer group.
	credentials kafka.Credentials
	kafka       broker.KafkaFunc
	contract    ContractStore
	dataPlane   DataPlane
	resolver    *resolver.URIResolver
	// dependencies finds and watches the objects of knative.dev/dependency annotations.
	dependencies duck.ListableTracker
	// systemNamespace holds config-kafka-features, whose template names new consumer groups.
	systemNamespace string
	// pollInterval is how soon a Trigger is looked at again while the data plane catches up.
	pollInterval time.Duration
}

// ReconcileKind sets t's egress and reports t Ready once the data plane serves it.
func (r *Reconciler) ReconcileKind(ctx context.Context, t *eventingv1.Trigger) pkgreconciler.Event {
	// 1. Find the broker; wait for it to be Ready.                    → BrokerReady
	// 2. Resolve the subscriber (ref, then its uri path).             → SubscriberResolved
	// 3. Resolve the dead-letter sink: the trigger's, else the broker's. → DeadLetterSinkResolved
	// 4. Name the consumer group: recorded, else from the template; record it. → SubscriptionReady
	// 5. Build the egress (delivery merged over the broker's) and set it.
	// 6. Follow the knative.dev/dependency annotation's object.       → DependencyReady
	// 7. Wait until the data plane's consumer group serves it.        → SubscriptionReady
	t.Status.InitializeConditions()
	b, event := r.broker(t)
	if b == nil {
		return event
	}
	subscriber, event := r.subscriber(ctx, t)
	if event != nil {
		return event
	}
	deadLetter, event := r.deadLetterSink(ctx, t, b)
	if event != nil {
		return event
	}
	group, event := r.consumerGroup(t)
	if event != nil {
		return event
	}
	egress, err := contractbuild.TriggerEgress(t, b, group, subscriber, deadLetter)
	if err != nil {
		t.Status.MarkNotSubscribed(ReasonInvalidConfiguration, "%v", err)
		return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonInvalidConfiguration, "%v", err)
	}
	r.contract.SetEgress(string(b.UID), egress)
	// The dependency gates Ready only: t is served whatever its state.
	dependencyEvent := r.dependency(ctx, t)
	servedEvent := r.served(ctx, t)
	if dependencyEvent != nil {
		return dependencyEvent
	}
	return servedEvent
}

// broker returns t's broker once it is Ready; nil, with t's BrokerReady condition saying why,
// otherwise. A broker change requeues its triggers, so waiting needs no requeue.
func (r *Reconciler) broker(t *eventingv1.Trigger) (*eventingv1.Broker, pkgreconciler.Event) {
	b, err := r.brokers.Brokers(t.Namespace).Get(t.Spec.Broker)
	if apierrors.IsNotFound(err) {
		t.Status.MarkBrokerFailed(ReasonBrokerDoesNotExist, "Broker %q does not exist", t.Spec.Broker)
		return nil, nil
	} else if err != nil {
		t.Status.MarkBrokerFailed(ReasonFailedToGetBroker, "Failed to get broker %q: %v", t.Spec.Broker, err)
		return nil, fmt.Errorf("getting broker %q: %w", t.Spec.Broker, err)
	}
	if !isKafka(b) {
		// Only possible in a race with a class change; the controller filters such triggers out.
		return nil, nil
	}
	ready := b.Status.GetTopLevelCondition()
	t.Status.PropagateBrokerCondition(ready)
	if ready == nil || !ready.IsTrue() || !b.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	return b, nil
}

// consumerGroup names t's consumer group (see contractbuild.NameTemplates.TriggerConsumerGroup)
// and records it in t's status annotations, where Knative's Kafka broker records it too: from then
// on the group, and so its committed offsets, stay whatever the template becomes. A template that
// fails marks the subscription not ready; config-kafka-features' watch requeues t when it changes.
func (r *Reconciler) consumerGroup(t *eventingv1.Trigger) (string, pkgreconciler.Event) {
	// Without usable templates, a recorded name still works.
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	group, err := names.TriggerConsumerGroup(t)
	if err != nil {
		if cfgErr != nil {
			err = cfgErr
		}
		t.Status.MarkNotSubscribed(ReasonNameTemplateInvalid, "naming the consumer group: %v", err)
		return "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonNameTemplateInvalid, "naming the consumer group: %v", err)
	}
	if t.Status.Annotations == nil {
		t.Status.Annotations = map[string]string{}
	}
	t.Status.Annotations[contractbuild.ConsumerGroupStatusAnnotation] = group
	return group, nil
}

func (r *Reconciler) subscriber(ctx context.Context, t *eventingv1.Trigger) (*apis.URL, pkgreconciler.Event) {
	uri, err := r.resolver.URIFromDestinationV1(ctx, inNamespace(t.Spec.Subscriber, t.Namespace), t)
	if err != nil {
		t.Status.SubscriberURI = nil
		t.Status.MarkSubscriberResolvedFailed(ReasonSubscriberFailed, "%v", err)
		return nil, retry("SubscriberResolveFailed", "resolving the subscriber: %v", err)
	}
	t.Status.SubscriberURI = uri
	t.Status.MarkSubscriberResolvedSucceeded()
	return uri, nil
}

func (r *Reconciler) deadLetterSink(ctx context.Context, t *eventingv1.Trigger, b *eventingv1.Broker) (*apis.URL, pkgreconciler.Event) {
	if t.Spec.Delivery != nil && t.Spec.Delivery.DeadLetterSink != nil {
		uri, err := r.resolver.URIFromDestinationV1(ctx, inNamespace(*t.Spec.Delivery.DeadLetterSink, t.Namespace), t)
		if err != nil {
			t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{}
			t.Status.MarkDeadLetterSinkResolvedFailed(ReasonDeadLetterSinkFailed, "%v", err)
			return nil, retry("DeadLetterSinkResolveFailed", "resolving the dead-letter sink: %v", err)
		}
		t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: uri}
		t.Status.MarkDeadLetterSinkResolvedSucceeded()
		return uri, nil
	}
	if uri := b.Status.DeadLetterSinkURI; uri != nil {
		t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: uri}
		t.Status.MarkDeadLetterSinkResolvedSucceeded()
		return uri, nil
	}
	t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{}
	t.Status.MarkDeadLetterSinkNotConfigured()
	return nil, nil
}

// served marks t subscribed once every data-plane instance applied the contract generation
// holding t's current egress and reports that egress ready — its consumer group joined and its
// start offsets fixed, so no event sent from now on is missed. Until then it requeues t.
func (r *Reconciler) served(ctx context.Context, t *eventingv1.Trigger) pkgreconciler.Event {
	uid := string(t.UID)
	status, err := r.dataPlane.Status(ctx)
	if err != nil {
		logging.FromContext(ctx).Desugar().Info("data plane status unavailable", zap.String("egress", uid), zap.Error(err))
	}
	if v := serving.Check(r.contract, status, err, serving.Egress, uid, "trigger"); !v.Served {
		t.Status.MarkSubscribedUnknown(v.Reason, "%s", v.Message)
		return controller.NewRequeueAfter(r.pollInterval)
	}
	t.Status.PropagateSubscriptionCondition(&apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue})
	return nil
}

// FinalizeKind removes t's egress and deletes its consumer group.
func (r *Reconciler) FinalizeKind(ctx context.Context, t *eventingv1.Trigger) pkgreconciler.Event {
	// 1. Find the broker; without it the egress went with the broker's entry and the broker's
	//    finalizer deleted the group.
	// 2. Remove the egress from the contract.
	// 3. Delete the consumer group — the recorded one, else the template's — once the data
	//    plane left it.
	b, err := r.brokers.Brokers(t.Namespace).Get(t.Spec.Broker)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("getting broker %q: %w", t.Spec.Broker, err)
	}
	r.contract.DeleteEgress(string(b.UID), string(t.UID))
	cluster, ok, err := broker.ClusterFor(r.configMaps, r.credentials, r.kafka, b)
	if err != nil {
		return err
	}
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	group, err := names.TriggerConsumerGroup(t)
	if err != nil {
		logging.FromContext(ctx).Desugar().Warn("the trigger has no recorded consumer group and its template fails: leaving its group in Kafka",
			zap.String("egress", string(t.UID)), zap.Error(err), zap.NamedError("config", cfgErr))
		return nil
	}
	if !ok {
		logging.FromContext(ctx).Desugar().Warn("broker config or its Kafka Secret is gone or invalid: leaving the trigger's consumer group in Kafka",
			zap.String("egress", string(t.UID)), zap.String("group", group))
		return nil
	}
	// The dispatcher commits without joining the group: wait until it stopped the Trigger, or its
	// last commit would bring the group back.
	status, err := r.dataPlane.Status(ctx)
	if v := serving.Released(status, err, string(t.UID)); !v.Served {
		logging.FromContext(ctx).Desugar().Info("waiting for the data plane to leave the trigger's consumer group", zap.String("group", group), zap.String("reason", v.Reason), zap.String("message", v.Message))
		return controller.NewRequeueAfter(r.pollInterval)
	}
	err = cluster.DeleteConsumerGroups(ctx, group)
	switch {
	case err == nil:
		return nil
	case kafka.IsGroupNotEmpty(err):
		// The data plane has not applied the contract without this trigger yet.
		return controller.NewRequeueAfter(r.pollInterval)
	default:
		return fmt.Errorf("deleting consumer group %q: %w", group, err)
	}
}

// inNamespace is d with a ref that names no namespace in ns, the Trigger's, as Knative's
// defaulting webhook would have written it (and Knative's MT broker reads it without that
// webhook). A uri beside the ref is kept: the resolver resolves it against the ref's address.
func inNamespace(d duckv1.Destination, ns string) duckv1.Destination {
	if d.Ref != nil && d.Ref.Namespace == "" {
		ref := *d.Ref
		ref.Namespace = ns
		d.Ref = &ref
	}
	return d
}

func isKafka(b *eventingv1.Broker) bool {
	return b.Annotations[eventingv1.BrokerClassAnnotationKey] == eventing.BrokerClass
}

// retry is an event that is recorded and also retried with backoff.
func retry(reason, format string, args ...any) error {
	return fmt.Errorf("%w", pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, format, args...))
}
