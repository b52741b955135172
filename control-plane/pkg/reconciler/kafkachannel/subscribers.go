package kafkachannel

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/logging"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/serving"
)

// setContract sets kc's contract entry and the egress of every subscriber that can be built, and
// deletes the egresses of subscribers that left or can no longer be built. It returns why each
// failing subscriber could not be built.
//
// The store has no list of a channel's egresses, so the ones to delete are those this process set
// for kc before (the ledger) or that the last status reported (status.subscribers), minus the
// current ones. The ledger covers a status update that was lost; a restarted controller starts
// with an empty store, so anything it did not set since is not there to delete.
func (r *Reconciler) setContract(ctx context.Context, kc *messagingv1beta1.KafkaChannel, cfg contractbuild.ChannelConfig, deadLetter *apis.URL) map[types.UID]error {
	channel := string(kc.UID)
	r.contract.SetResource(contractbuild.ChannelResource(kc, cfg))
	var current []string
	var buildErrs map[types.UID]error
	for _, sub := range kc.Spec.Subscribers {
		egress, err := contractbuild.SubscriberEgress(kc, sub, deadLetter)
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
