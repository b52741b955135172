package kafkachannel

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/serving"
)

// setContract sets kc's contract entry (resource) and the egress of every subscriber that can be built, and
// deletes the egresses of subscribers that left or can no longer be built. It returns why each
// failing subscriber could not be built.
//
// The store has no list of a channel's egresses, so the ones to delete are those this process set
// for kc before (the ledger) or that the last status reported (status.subscribers), minus the
// current ones. The ledger covers a status update that was lost; a restarted controller starts
// with an empty store, so anything it did not set since is not there to delete.
func (r *Reconciler) setContract(ctx context.Context, kc *messagingv1beta1.KafkaChannel, resource contract.Resource, deadLetter *apis.URL) map[types.UID]error {
	channel := string(kc.UID)
	r.contract.SetResource(resource)
	var current []string
	var buildErrs map[types.UID]error
	for _, sub := range kc.Spec.Subscribers {
		subscription := r.subscription(ctx, kc, sub)
		var annotations map[string]string
		if subscription != nil {
			annotations = subscription.Annotations
			r.checkOrder(ctx, subscription)
		}
		egress, err := contractbuild.SubscriberEgress(kc, sub, annotations, deadLetter)
		if err != nil {
			logging.FromContext(ctx).Desugar().Warn("subscriber cannot be delivered",
				zap.String("resource", channel), zap.String("egress", string(sub.UID)), zap.Error(err))
			if buildErrs == nil {
				buildErrs = map[types.UID]error{}
			}
			buildErrs[sub.UID] = err
			continue
		}
		r.contract.SetEgress(channel, egress)
		current = append(current, egress.UID)
	}
	previous := r.egresses.replace(channel, current)
	for _, uid := range knownSubscribers(kc, previous) {
		if !slices.Contains(current, uid) {
			r.contract.DeleteEgress(channel, uid)
		}
	}
	return buildErrs
}

// subscription is the Subscription behind sub, whose annotations choose its delivery order; nil
// when the lister does not hold it (yet: its informer requeues the channel when it arrives).
// spec.subscribers carries the Subscription's UID and name but not its namespace: it is looked up
// by name in kc's namespace first, then by UID everywhere (a Subscription in another namespace,
// or a subscriber written without a name).
func (r *Reconciler) subscription(ctx context.Context, kc *messagingv1beta1.KafkaChannel, sub eventingduckv1.SubscriberSpec) *messagingv1.Subscription {
	if r.subscriptions == nil || sub.UID == "" {
		return nil
	}
	if sub.Name != nil {
		s, err := r.subscriptions.Subscriptions(kc.Namespace).Get(*sub.Name)
		if err == nil && s.UID == sub.UID {
			return s
		} else if err != nil && !apierrors.IsNotFound(err) {
			logging.FromContext(ctx).Desugar().Warn("reading a subscription from the informer's cache",
				zap.String("resource", string(kc.UID)), zap.String("egress", string(sub.UID)), zap.Error(err))
		}
	}
	all, err := r.subscriptions.List(labels.Everything())
	if err != nil {
		logging.FromContext(ctx).Desugar().Warn("listing subscriptions from the informer's cache",
			zap.String("resource", string(kc.UID)), zap.String("egress", string(sub.UID)), zap.Error(err))
		return nil
	}
	for _, s := range all {
		if s.UID == sub.UID {
			return s
		}
	}
	return nil
}

// checkOrder records a warning event on s when its delivery-order annotation is invalid. The
// Subscription is Knative core's object, which no webhook of ours validates, and Knative's
// subscription reconciler does not copy the channel's message for a subscriber into the
// Subscription's status; the event is where `kubectl describe subscription` shows the cause.
func (r *Reconciler) checkOrder(ctx context.Context, s *messagingv1.Subscription) {
	v, ok := s.Annotations[eventing.DeliveryOrderAnnotation]
	if !ok {
		return
	}
	if _, err := eventing.ParseDeliveryOrder(v); err != nil {
		controller.GetEventRecorder(ctx).Eventf(s, corev1.EventTypeWarning, ReasonDeliveryOrderInvalid,
			"the channel does not deliver this subscription: %v", err)
	}
}

// view is the data plane's status, read once per reconcile.
type view struct {
	status contract.Status
	err    error
}

func (r *Reconciler) observe(ctx context.Context, kc *messagingv1beta1.KafkaChannel) view {
	status, err := r.dataPlane.Status(ctx)
	if err != nil {
		logging.FromContext(ctx).Desugar().Info("data plane status unavailable", zap.String("resource", string(kc.UID)), zap.Error(err))
	}
	return view{status: status, err: err}
}

// subscribers rewrites status.subscribers: one entry per spec.subscribers entry, True once the
// dispatcher serves its egress (consumer group joined, start offsets fixed), Unknown until then and
// False when its egress cannot be built. It reports whether any subscriber is still Unknown: a
// False one waits for its Subscription to change, which changes the channel.
func (r *Reconciler) subscribers(kc *messagingv1beta1.KafkaChannel, buildErrs map[types.UID]error, v view) (pending bool) {
	statuses := make([]eventingduckv1.SubscriberStatus, 0, len(kc.Spec.Subscribers))
	for _, sub := range kc.Spec.Subscribers {
		s := eventingduckv1.SubscriberStatus{UID: sub.UID, ObservedGeneration: sub.Generation, Ready: corev1.ConditionTrue}
		if err := buildErrs[sub.UID]; err != nil {
			s.Ready, s.Message = corev1.ConditionFalse, fmt.Sprintf("the subscription cannot be delivered: %v", err)
		} else if verdict := serving.Check(r.contract, v.status, v.err, serving.Egress, string(sub.UID), "subscription"); !verdict.Served {
			s.Ready, s.Message = corev1.ConditionUnknown, verdict.Reason+": "+verdict.Message
		}
		pending = pending || s.Ready == corev1.ConditionUnknown
		statuses = append(statuses, s)
	}
	kc.Status.Subscribers = statuses
	return pending
}

// served marks kc available and publishes its address once the ingress serves its current entry;
// until then DataPlaneAvailable is Unknown with the reason. It reports whether kc is served.
func (r *Reconciler) served(kc *messagingv1beta1.KafkaChannel, v view) bool {
	if verdict := serving.Check(r.contract, v.status, v.err, serving.Ingress, string(kc.UID), "channel"); !verdict.Served {
		kc.Status.MarkDataPlaneUnknown(verdict.Reason, "%s", verdict.Message)
		return false
	}
	kc.Status.MarkDataPlaneAvailable()
	kc.Status.SetAddress(contractbuild.ChannelAddress(kc))
	return true
}

// egressLedger remembers, per channel UID, the egress UIDs this process last set in the contract
// store. It is safe for concurrent use.
type egressLedger struct {
	mu  sync.Mutex
	set map[string][]string
}

// replace records uids as channel's egresses and returns the ones recorded before.
func (l *egressLedger) replace(channel string, uids []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = map[string][]string{}
	}
	previous := l.set[channel]
	l.set[channel] = slices.Clone(uids)
	return previous
}

// forget drops channel and returns its egresses.
func (l *egressLedger) forget(channel string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	previous := l.set[channel]
	delete(l.set, channel)
	return previous
}
