package trigger

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	fakeeventingclient "knative.dev/eventing/pkg/client/injection/client/fake"
	triggerreconciler "knative.dev/eventing/pkg/client/injection/reconciler/eventing/v1/trigger"
	"knative.dev/eventing/pkg/duck"
	reconcilertesting "knative.dev/eventing/pkg/reconciler/testing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	"knative.dev/pkg/client/injection/ducks/duck/v1/source"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/ptr"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
)

const (
	ns          = "ns"
	brokerName  = "default"
	brokerUID   = "broker-uid"
	triggerName = "orders"
	triggerUID  = "trigger-uid"
	triggerKey  = ns + "/" + triggerName
)

var (
	subscriberURI = apis.HTTP("subscriber.ns.svc.cluster.local")
	brokerDLS     = apis.HTTP("broker-dls.ns.svc.cluster.local")
	triggerDLS    = apis.HTTP("trigger-dls.ns.svc.cluster.local")
)

type row struct {
	TableRow
	kafka     *fakeKafka
	published map[string]uint64
	dataPlane fakeDataPlane
	// want* are the calls the collaborators must have seen.
	wantSet           []setEgress
	wantDeleted       [][2]string
	wantGroupsDeleted [][]string
	// wantSecurity, when set, is the Security.String() of every connection to Kafka ({} for none).
	wantSecurity []string
}

func TestReconcileKind(t *testing.T) {
	served := fakeDataPlane{status: contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{triggerUID: {Ready: true}}}}
	rows := []row{{
		TableRow: TableRow{Name: "a trigger that no longer exists is not an error", Key: "ns/gone"},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose broker does not exist is BrokerDoesNotExist",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(func(t *eventingv1.Trigger) {
				t.Status.MarkBrokerFailed(ReasonBrokerDoesNotExist, "Broker %q does not exist", brokerName)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose broker is not ready waits with BrokerReady Unknown",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker(brokerNotReady)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(func(t *eventingv1.Trigger) {
				t.Status.MarkBrokerUnknown("ContractNotApplied", "waiting")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:              "the first reconcile adds the finalizer",
			Key:               triggerKey,
			Objects:           []runtime.Object{newTrigger(withoutFinalizer), newBroker()},
			WantPatches:       []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":["kafka.triggers.eventing.knative.dev"],"resourceVersion":""}}`)},
			WantEvents:        []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withoutFinalizer, groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "an unresolvable subscriber marks SubscriberResolved False and retries",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withSubscriberRef), newBroker()},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SubscriberResolveFailed",
				`resolving the subscriber: failed to get object ns/missing: services.serving.knative.dev "missing" not found`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withSubscriberRef, brokerReady, func(t *eventingv1.Trigger) {
				t.Status.MarkSubscriberResolvedFailed(ReasonSubscriberFailed, `failed to get object ns/missing: services.serving.knative.dev "missing" not found`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "an invalid delivery order annotation marks SubscriptionReady False",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withOrder("sometimes")), newBroker()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonInvalidConfiguration,
				`annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "sometimes"`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withOrder("sometimes"), groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, func(t *eventingv1.Trigger) {
				t.Status.MarkNotSubscribed(ReasonInvalidConfiguration, `annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "sometimes"`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a served trigger is Ready with its egress set: filter, merged delivery, order and the broker's dead-letter sink",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withEverything), newBroker(withBrokerDelivery)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withEverything, groupRecorded, brokerReady, subscriberResolved, func(t *eventingv1.Trigger) {
				t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: brokerDLS}
				t.Status.MarkDeadLetterSinkResolvedSucceeded()
			}, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, contract.Egress{
			UID: triggerUID, Kind: contract.KindTrigger, Namespace: ns, Name: triggerName,
			ConsumerGroup: "knative-trigger-ns-orders",
			Destination:   "http://subscriber.ns.svc.cluster.local",
			Reply:         contract.Reply{Kind: contract.ReplyTopic},
			DeadLetter:    "http://broker-dls.ns.svc.cluster.local",
			Delivery:      contract.Delivery{Retry: 5, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(time.Second)},
			Order:         contract.Ordered,
			Filter: &contract.Filter{
				Attributes: map[string]string{"type": "order.created"},
				Filters:    []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"source": "shop/"}}},
			},
		}}},
	}, {
		TableRow: TableRow{
			Name:    "the trigger's dead-letter sink wins over the broker's",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withTriggerDLS), newBroker(withBrokerDelivery)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withTriggerDLS, groupRecorded, brokerReady, subscriberResolved, func(t *eventingv1.Trigger) {
				t.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: triggerDLS}
				t.Status.MarkDeadLetterSinkResolvedSucceeded()
			}, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, func() contract.Egress {
			e := bareEgress()
			e.DeadLetter = "http://trigger-dls.ns.svc.cluster.local"
			e.Delivery = contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(200 * time.Millisecond)}
			return e
		}()}},
	}, {
		TableRow: TableRow{
			Name:    "a subscriber ref with a uri is the ref's address with the uri's path",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withServiceRefAndPath), newBroker(), subscriberService()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withServiceRefAndPath, groupRecorded, brokerReady, func(t *eventingv1.Trigger) {
				t.Status.SubscriberURI = apis.HTTP("display.ns.svc.cluster.local")
				t.Status.SubscriberURI.Path = "/events/orders"
				t.Status.MarkSubscriberResolvedSucceeded()
			}, dlsNotConfigured, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, func() contract.Egress {
			e := bareEgress()
			e.Destination = "http://display.ns.svc.cluster.local/events/orders"
			return e
		}()}},
	}, {
		TableRow: TableRow{
			Name:              "a trigger whose dependency is Ready is Ready",
			Key:               triggerKey,
			Objects:           []runtime.Object{newTrigger(withDependency), newBroker(), newPingSource(pingReady)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withDependency, groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose dependency is not Ready is served but not Ready, with the dependency's reason",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withDependency), newBroker(), newPingSource(pingNotReady)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withDependency, groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed, func(t *eventingv1.Trigger) {
				t.Status.MarkDependencyFailed("SinkNotFound", "the sink is gone")
			})}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose dependency has not observed its generation waits with DependencyReady Unknown",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withDependency), newBroker(), newPingSource(pingReady, func(p *sourcesv1.PingSource) { p.Generation = 2 })},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withDependency, groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed, func(t *eventingv1.Trigger) {
				t.Status.MarkDependencyUnknown(ReasonGenerationNotEqual, "The dependency's metadata.generation, 2, is not equal to its status.observedGeneration, 1.")
			})}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose dependency does not exist is DependencyDoesNotExist",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(withDependency), newBroker()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withDependency, groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed, func(t *eventingv1.Trigger) {
				t.Status.MarkDependencyFailed(ReasonDependencyDoesNotExist, `Dependency does not exist: pingsources.sources.knative.dev "ping" not found`)
			})}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a trigger whose egress is not published yet is Unknown and requeued",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, dependencyReady, func(t *eventingv1.Trigger) {
				t.Status.MarkSubscribedUnknown(ReasonContractNotPublished, "the trigger's contract entry is not published yet")
			})}},
		},
		dataPlane: served,
		wantSet:   []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a consumer group that has not joined yet leaves the trigger Unknown with the data plane's reason",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, dependencyReady, func(t *eventingv1.Trigger) {
				t.Status.MarkSubscribedUnknown("JoiningGroup", "rebalancing")
			})}},
		},
		published: map[string]uint64{triggerUID: 5},
		dataPlane: fakeDataPlane{status: contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{triggerUID: {Reason: "JoiningGroup", Message: "rebalancing"}}}},
		wantSet:   []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "a data plane behind the contract leaves the trigger Unknown",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, dependencyReady, func(t *eventingv1.Trigger) {
				t.Status.MarkSubscribedUnknown(ReasonContractNotApplied, "the data plane applied contract generation 5; the trigger is in generation 6")
			})}},
		},
		published: map[string]uint64{triggerUID: 6}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:    "an already reconciled trigger causes no writes",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed), newBroker()},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:        "deleting a trigger removes its egress and its consumer group",
			Key:         triggerKey,
			Objects:     []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig()},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
		},
		wantDeleted:       [][2]string{{brokerUID, triggerUID}},
		wantGroupsDeleted: [][]string{{"knative-trigger-ns-orders"}},
		wantSecurity:      []string{"PLAINTEXT"},
	}, {
		TableRow: TableRow{
			Name:        "deleting a trigger of a secured broker deletes its consumer group with the broker's credentials",
			Key:         triggerKey,
			Objects:     []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig(withAuth), authSecret()},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
		},
		wantDeleted:       [][2]string{{brokerUID, triggerUID}},
		wantGroupsDeleted: [][]string{{"knative-trigger-ns-orders"}},
		wantSecurity:      []string{"SASL_PLAINTEXT/PLAIN"},
	}, {
		TableRow: TableRow{
			Name:        "deleting a trigger whose broker's Secret is gone leaves the consumer group",
			Key:         triggerKey,
			Objects:     []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig(withAuth)},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
		},
		wantDeleted:  [][2]string{{brokerUID, triggerUID}},
		wantSecurity: []string{},
	}, {
		TableRow: TableRow{
			Name:        "deleting a trigger whose broker is gone only drops the finalizer",
			Key:         triggerKey,
			Objects:     []runtime.Object{newTrigger(deleted)},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
		},
	}, {
		TableRow: TableRow{
			Name:    "deleting a trigger still consumed by the data plane waits",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig()},
			WantErr: true,
		},
		kafka:             &fakeKafka{deleteGroups: kerr.NonEmptyGroup},
		wantDeleted:       [][2]string{{brokerUID, triggerUID}},
		wantGroupsDeleted: [][]string{{"knative-trigger-ns-orders"}},
	}, {
		// The dispatcher commits as a group without members: an empty group does not mean it
		// stopped, its status does.
		TableRow: TableRow{
			Name:    "deleting a trigger the dispatcher still runs leaves its consumer group until it stopped",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig()},
			WantErr: true,
		},
		dataPlane:   served,
		wantDeleted: [][2]string{{brokerUID, triggerUID}},
	}, {
		TableRow: TableRow{
			Name:    "deleting a trigger while the data plane cannot be asked leaves its consumer group",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(deleted), newBroker(), brokerConfig()},
			WantErr: true,
		},
		dataPlane:   fakeDataPlane{err: errors.New("connection refused")},
		wantDeleted: [][2]string{{brokerUID, triggerUID}},
	}, {
		TableRow: TableRow{
			Name:              "a new trigger's consumer group is named by triggers-consumergroup-template and recorded",
			Key:               triggerKey,
			Objects:           []runtime.Object{newTrigger(), newBroker(), featuresConfig("triggers-consumergroup-template", "cg.{{ .Namespace }}.{{ .Name }}")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withRecordedGroup("cg.ns.orders"), brokerReady, subscriberResolved, dlsNotConfigured, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, withGroup(bareEgress(), "cg.ns.orders")}},
	}, {
		TableRow: TableRow{
			Name:    "a recorded consumer group wins over a changed template: the trigger keeps its offsets",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(groupRecorded, brokerReady, subscriberResolved, dlsNotConfigured, subscribed), newBroker(), featuresConfig("triggers-consumergroup-template", "changed-{{ .Name }}")},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, bareEgress()}},
	}, {
		TableRow: TableRow{
			Name:              "a consumer group the incumbent recorded under another template is kept",
			Key:               triggerKey,
			Objects:           []runtime.Object{newTrigger(withRecordedGroup("test-ns-orders-trigger")), newBroker()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(withRecordedGroup("test-ns-orders-trigger"), brokerReady, subscriberResolved, dlsNotConfigured, subscribed)}},
		},
		published: map[string]uint64{triggerUID: 5}, dataPlane: served,
		wantSet: []setEgress{{brokerUID, withGroup(bareEgress(), "test-ns-orders-trigger")}},
	}, {
		TableRow: TableRow{
			Name:    "a template that fails to execute marks SubscriptionReady False",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker(), featuresConfig("triggers-consumergroup-template", "{{ .Labels.team }}")},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonNameTemplateInvalid,
				`naming the consumer group: executing template triggers-consumergroup-template: template: triggers-consumergroup-template:1:10: executing "triggers-consumergroup-template" at <.Labels.team>: map has no entry for key "team"`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(brokerReady, subscriberResolved, dlsNotConfigured, func(t *eventingv1.Trigger) {
				t.Status.MarkNotSubscribed(ReasonNameTemplateInvalid,
					`naming the consumer group: executing template triggers-consumergroup-template: template: triggers-consumergroup-template:1:10: executing "triggers-consumergroup-template" at <.Labels.team>: map has no entry for key "team"`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a template that does not parse marks SubscriptionReady False naming the ConfigMap",
			Key:     triggerKey,
			Objects: []runtime.Object{newTrigger(), newBroker(), featuresConfig("triggers-consumergroup-template", "{{ .Name")},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonNameTemplateInvalid,
				`naming the consumer group: ConfigMap knative-eventing/config-kafka-features: triggers-consumergroup-template: template: triggers-consumergroup-template:1: unclosed action`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newTrigger(brokerReady, subscriberResolved, dlsNotConfigured, func(t *eventingv1.Trigger) {
				t.Status.MarkNotSubscribed(ReasonNameTemplateInvalid,
					`naming the consumer group: ConfigMap knative-eventing/config-kafka-features: triggers-consumergroup-template: template: triggers-consumergroup-template:1: unclosed action`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:        "deleting a trigger after a template change deletes its recorded consumer group",
			Key:         triggerKey,
			Objects:     []runtime.Object{newTrigger(deleted, withRecordedGroup("old-group")), newBroker(), brokerConfig(), featuresConfig("triggers-consumergroup-template", "new-{{ .Name }}")},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, triggerName)},
		},
		wantDeleted:       [][2]string{{brokerUID, triggerUID}},
		wantGroupsDeleted: [][]string{{"old-group"}},
		wantSecurity:      []string{"PLAINTEXT"},
	}}

	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.kafka == nil {
				r.kafka = &fakeKafka{}
			}
			store := &fakeStore{published: r.published}
			r.Test(t, reconcilertesting.MakeFactory(func(ctx context.Context, listers *reconcilertesting.Listers, _ configmap.Watcher) controller.Reconciler {
				ctx = addressable.WithDuck(ctx)
				ctx = source.WithDuck(ctx)
				rec := &Reconciler{
					brokers:         listers.GetBrokerLister(),
					configMaps:      listers.GetConfigMapLister(),
					credentials:     kafka.NewCredentials(listers.GetSecretLister()),
					kafka:           r.kafka.get,
					contract:        store,
					dataPlane:       r.dataPlane,
					resolver:        resolver.NewURIResolverFromTracker(ctx, &FakeTracker{}),
					dependencies:    duck.NewListableTrackerFromTracker(ctx, source.Get, &FakeTracker{}),
					systemNamespace: "knative-eventing",
					pollInterval:    time.Second,
				}
				return triggerreconciler.NewReconciler(ctx, logging.FromContext(ctx), fakeeventingclient.Get(ctx),
					listers.GetTriggerLister(), controller.GetEventRecorder(ctx), rec,
					controller.Options{FinalizerName: FinalizerName})
			}, false, logtesting.TestLogger(t)))

			check := func(what string, want, got any) {
				t.Helper()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			check("egresses set", r.wantSet, store.Set)
			check("egresses deleted", r.wantDeleted, store.Deleted)
			check("consumer groups deleted", r.wantGroupsDeleted, r.kafka.DeletedGroups)
			if r.wantSecurity != nil {
				check("security of the connections", r.wantSecurity, append([]string{}, r.kafka.Security...))
			}
		})
	}
}

func TestKafkaTriggersFilter(t *testing.T) {
	listers := reconcilertesting.NewListers([]runtime.Object{
		newBroker(),
		newBroker(func(b *eventingv1.Broker) {
			b.Name = "mt"
			b.Annotations[eventingv1.BrokerClassAnnotationKey] = "MTChannelBasedBroker"
		}),
	})
	ours := kafkaTriggers(listers.GetBrokerLister())
	tests := []struct {
		name string
		obj  any
		want bool
	}{
		{"a trigger of a Kafka broker", newTrigger(), true},
		{"a trigger of another class of broker", newTrigger(withBroker("mt"), withoutFinalizer), false},
		{"a trigger of a missing broker", newTrigger(withBroker("nope"), withoutFinalizer), false},
		{"a trigger we finalize whose broker is gone", newTrigger(withBroker("nope")), true},
		{"something else", newBroker(), false},
	}
	for _, tt := range tests {
		if got := ours(tt.obj); got != tt.want {
			t.Errorf("%s: filter = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func newTrigger(opts ...func(*eventingv1.Trigger)) *eventingv1.Trigger {
	t := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: triggerName, UID: triggerUID, Generation: 1, Finalizers: []string{FinalizerName}},
		Spec: eventingv1.TriggerSpec{
			Broker:     brokerName,
			Subscriber: duckv1.Destination{URI: subscriberURI},
		},
	}
	t.Status.InitializeConditions()
	t.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(t)
	}
	return t
}

func withoutFinalizer(t *eventingv1.Trigger) { t.Finalizers = nil }

func deleted(t *eventingv1.Trigger) { t.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }

func withBroker(name string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) { t.Spec.Broker = name }
}

func withOrder(order string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) {
		t.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: order}
	}
}

func withSubscriberRef(t *eventingv1.Trigger) {
	t.Spec.Subscriber = duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "missing"}}
}

func withServiceRefAndPath(t *eventingv1.Trigger) {
	t.Spec.Subscriber = duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "display"},
		URI: &apis.URL{Path: "/events/orders"},
	}
}

// subscriberService is the Service withServiceRefAndPath names.
func subscriberService() *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "display"}}
}

// withDependency makes the trigger depend on the PingSource newPingSource makes.
func withDependency(t *eventingv1.Trigger) {
	withDependencyAnnotation(`{"kind":"PingSource","name":"ping","apiVersion":"sources.knative.dev/v1"}`)(t)
}

func withDependencyAnnotation(value string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) {
		t.Annotations = map[string]string{eventingv1.DependencyAnnotation: value}
	}
}

func newPingSource(opts ...func(*sourcesv1.PingSource)) *sourcesv1.PingSource {
	p := &sourcesv1.PingSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "PingSource"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ping", Generation: 1},
	}
	p.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(p)
	}
	return p
}

func pingReady(p *sourcesv1.PingSource) {
	p.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: corev1.ConditionTrue}}
}

func pingNotReady(p *sourcesv1.PingSource) {
	p.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "SinkNotFound", Message: "the sink is gone"}}
}

func withTriggerDLS(t *eventingv1.Trigger) {
	t.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: triggerDLS}}
}

func withEverything(t *eventingv1.Trigger) {
	withOrder("ordered")(t)
	t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "order.created"}}
	t.Spec.Filters = []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"source": "shop/"}}}
	t.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(5), BackoffDelay: ptr.String("PT1S")}
}

func brokerReady(t *eventingv1.Trigger) {
	t.Status.PropagateBrokerCondition(&apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue})
}

func subscriberResolved(t *eventingv1.Trigger) {
	t.Status.SubscriberURI = subscriberURI
	t.Status.MarkSubscriberResolvedSucceeded()
}

func dlsNotConfigured(t *eventingv1.Trigger) { t.Status.MarkDeadLetterSinkNotConfigured() }

func dependencyReady(t *eventingv1.Trigger) { t.Status.MarkDependencySucceeded() }

func subscribed(t *eventingv1.Trigger) {
	dependencyReady(t)
	t.Status.PropagateSubscriptionCondition(&apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue})
}

func newBroker(opts ...func(*eventingv1.Broker)) *eventingv1.Broker {
	b := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: brokerName, UID: brokerUID,
			Annotations: map[string]string{eventingv1.BrokerClassAnnotationKey: eventing.BrokerClass},
		},
		Spec: eventingv1.BrokerSpec{Config: &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "knative-eventing", Name: "kafka-broker-config"}},
	}
	b.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: corev1.ConditionTrue}}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

func brokerNotReady(b *eventingv1.Broker) {
	b.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: corev1.ConditionUnknown, Reason: "ContractNotApplied", Message: "waiting"}}
}

func withBrokerDelivery(b *eventingv1.Broker) {
	linear := eventingduckv1.BackoffPolicyLinear
	b.Spec.Delivery = &eventingduckv1.DeliverySpec{
		DeadLetterSink: &duckv1.Destination{URI: brokerDLS},
		Retry:          ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.2S"),
	}
	b.Status.DeliveryStatus = eventingduckv1.DeliveryStatus{DeadLetterSinkURI: brokerDLS}
}

func brokerConfig(opts ...func(*corev1.ConfigMap)) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "kafka-broker-config"},
		Data: map[string]string{
			"bootstrap.servers": "kafka:9092", "default.topic.partitions": "3", "default.topic.replication.factor": "1",
		},
	}
	for _, opt := range opts {
		opt(cm)
	}
	return cm
}

func withAuth(cm *corev1.ConfigMap) { cm.Data["auth.secret.ref.name"] = "kafka-auth" }

// authSecret is the Secret withAuth names: SASL_PLAINTEXT with PLAIN.
func authSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "kafka-auth"},
		StringData: map[string]string{"protocol": "SASL_PLAINTEXT", "user": "trigger-user", "password": "trigger-password"},
	}
}

// groupRecorded records the default consumer group in t's status, as a reconcile does.
func groupRecorded(t *eventingv1.Trigger) { withRecordedGroup("knative-trigger-ns-orders")(t) }

func withRecordedGroup(group string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) {
		if t.Status.Annotations == nil {
			t.Status.Annotations = map[string]string{}
		}
		t.Status.Annotations["group.id"] = group
	}
}

// featuresConfig is config-kafka-features with the given key-value pairs.
func featuresConfig(kv ...string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "config-kafka-features"}, Data: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		cm.Data[kv[i]] = kv[i+1]
	}
	return cm
}

func withGroup(e contract.Egress, group string) contract.Egress {
	e.ConsumerGroup = group
	return e
}

func bareEgress() contract.Egress {
	return contract.Egress{
		UID: triggerUID, Kind: contract.KindTrigger, Namespace: ns, Name: triggerName,
		ConsumerGroup: "knative-trigger-ns-orders",
		Destination:   "http://subscriber.ns.svc.cluster.local",
		Reply:         contract.Reply{Kind: contract.ReplyTopic},
		Order:         contract.Unordered,
	}
}

func patch(p string) clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = triggerName, ns
	action.Patch = []byte(p)
	return action
}

func TestBrokerChangeEnqueuesItsTriggers(t *testing.T) {
	other := newTrigger(withBroker("other"))
	other.Name = "elsewhere"
	second := newTrigger()
	second.Name = "second"
	listers := reconcilertesting.NewListers([]runtime.Object{newTrigger(), second, other})
	var got []string
	enqueueTriggersOf(context.Background(), listers.GetTriggerLister(), func(obj any) {
		got = append(got, obj.(*eventingv1.Trigger).Name)
	})(newBroker())
	slices.Sort(got)
	if diff := cmp.Diff([]string{triggerName, "second"}, got); diff != "" {
		t.Errorf("enqueued (-want +got):\n%s", diff)
	}
}

// TestDependencyAnnotationThatIsNotAReference: Knative's webhook refuses such an annotation (so the
// table test's fake client, which validates, cannot hold the Trigger); past it, the Trigger is not
// Ready and is not retried, as only a change of the annotation can help.
func TestDependencyAnnotationThatIsNotAReference(t *testing.T) {
	ctx, _ := SetupFakeContext(t)
	r := &Reconciler{}
	tr := newTrigger(withDependencyAnnotation("ping"))
	if event := r.dependency(ctx, tr); event != nil {
		t.Errorf("dependency() = %v, want nil", event)
	}
	c := tr.Status.GetCondition(eventingv1.TriggerConditionDependency)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonDependencyReferenceError {
		t.Errorf("DependencyReady = %+v, want False with reason %s", c, ReasonDependencyReferenceError)
	}
}
