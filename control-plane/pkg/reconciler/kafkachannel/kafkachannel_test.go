package kafkachannel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/ptr"
	. "knative.dev/pkg/reconciler/testing"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
)

var deadLetterURI = apis.HTTP("dls.ns.svc.cluster.local")

// row is a TableRow plus the collaborators' answers and what they should have been asked.
type row struct {
	TableRow
	kafka     *fakeKafka
	published map[string]uint64
	dataPlane *fakeDataPlane
	// want* are the calls the collaborators must have seen.
	wantResources        []contract.Resource
	wantEgresses         []setEgress
	wantDeletedResources []string
	wantDeletedEgresses  [][2]string
	wantEnsured          []kafka.TopicSpec
	wantConfigured       []topicConfigCall
	wantTopicsDeleted    []string
	wantGroupsDeleted    [][]string
	// wantSecurity, when set, is the Security.String() of every connection to Kafka.
	wantSecurity []string
}

func TestReconcileKind(t *testing.T) {
	const (
		secretMissing = `secret "knative-eventing/kafka-auth": secret not found`
		keyMissing    = `key "user" of secret "knative-eventing/kafka-auth": SASL user is missing or empty`
		saslRefused   = `Kafka refused the connection made with keys ["user" "password" "sasl.mechanism"] of secret "knative-eventing/kafka-auth": creating topic: SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`
	)
	rows := []row{{
		TableRow: TableRow{
			Name:       "a missing auth Secret marks ConfigParsed False with SecretNotFound naming it, and keeps the entry",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretNotFound", secretMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkConfigFailed("SecretNotFound", secretMissing)
			})}},
		},
		wantResources: []contract.Resource{wantResource()},
	}, {
		TableRow: TableRow{
			Name:       "an auth Secret without its user marks ConfigParsed False with SecretKeyMissing naming the key",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(func(s *corev1.Secret) { delete(s.Data, "user") })},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretKeyMissing", keyMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkConfigFailed("SecretKeyMissing", keyMissing)
			})}},
		},
		wantResources: []contract.Resource{wantResource()},
	}, {
		TableRow: TableRow{
			Name: "the auth Secret may live in another namespace (auth.secret.ref.namespace), and its settings reach Kafka",
			Key:  channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns),
				channelConfig(func(cm *corev1.ConfigMap) { cm.Data["auth.secret.ref.namespace"] = "kafka" }),
				authSecret(func(s *corev1.Secret) { s.Namespace = "kafka"; s.Data["sasl.mechanism"] = []byte("PLAIN") }),
				channelServiceObject()},
			WantErr: true, // requeued until the entry is published
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, prepared,
				dataPlaneUnknown(ReasonContractNotPublished, "the channel's contract entry is not published yet"))}},
		},
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.Auth = &contract.SecretRef{Namespace: "kafka", Name: "kafka-auth"}
			return r
		}()},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
		wantSecurity: []string{"SASL_SSL/PLAIN"},
	}, {
		TableRow: TableRow{
			Name:       "credentials the cluster refuses mark TopicReady False with SASLAuthenticationFailed, retry, and keep the entry",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SASLAuthenticationFailed", saslRefused)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed("SASLAuthenticationFailed", saslRefused)
			})}},
		},
		kafka:         &fakeKafka{ensureErr: fmt.Errorf("creating topic: %w", kerr.SaslAuthenticationFailed)},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
		wantSecurity: []string{"SASL_SSL/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{Name: "a channel that no longer exists is not an error", Key: "ns/gone"},
	}, {
		TableRow: TableRow{
			Name:        "the first reconcile adds the finalizer, creates the topic and the service, and sets the entry",
			Key:         channelKey,
			Objects:     []runtime.Object{NewKafkaChannel(channelName, ns, withoutFinalizer), channelConfig(), authSecret()},
			WantErr:     true, // requeued until the entry is published
			WantPatches: []clientgotesting.PatchActionImpl{patchFinalizers()},
			WantCreates: []runtime.Object{channelServiceObject()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, channelName)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, withoutFinalizer, prepared,
				dataPlaneUnknown(ReasonContractNotPublished, "the channel's contract entry is not published yet"))}},
		},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:       "a missing config map marks ConfigParsed False",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns)},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonConfigMapNotFound, "ConfigMap knative-eventing/kafka-channel-config does not exist")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkConfigFailed(ReasonConfigMapNotFound, "ConfigMap knative-eventing/kafka-channel-config does not exist")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "an invalid config map marks ConfigParsed False",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(func(cm *corev1.ConfigMap) { delete(cm.Data, "bootstrap.servers") })},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonConfigInvalid,
				"ConfigMap knative-eventing/kafka-channel-config: bootstrap.servers is required")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkConfigFailed(ReasonConfigInvalid, "ConfigMap knative-eventing/kafka-channel-config: bootstrap.servers is required")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:       "an unreachable Kafka marks TopicReady False and retries",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonKafkaUnavailable, "connecting to Kafka [kafka-1:9092 kafka-2:9092]: no route")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed(ReasonKafkaUnavailable, "no route")
			})}},
		},
		kafka: &fakeKafka{connectErr: errors.New("no route")},
	}, {
		TableRow: TableRow{
			Name:       "a failing topic creation marks TopicReady False, records an event and retries",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicCreateFailed, "creating topic: BROKER_NOT_AVAILABLE: The broker is not available.")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed(ReasonTopicCreateFailed, "creating topic: BROKER_NOT_AVAILABLE: The broker is not available.")
			})}},
		},
		kafka:       &fakeKafka{ensureErr: fmt.Errorf("creating topic: %w", kerr.BrokerNotAvailable)},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:       "an existing topic with too few partitions marks TopicReady False without retrying",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicPartitions, `topic "knative-messaging-kafka.ns.orders" has 1 partitions, fewer than the 3 requested`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed(ReasonTopicPartitions, `topic "knative-messaging-kafka.ns.orders" has 1 partitions, fewer than the 3 requested`)
			})}},
		},
		kafka:       &fakeKafka{ensureErr: &kafka.PartitionsError{Topic: topic, Have: 1, Want: 3}},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:       "an invalid retention marks TopicReady False without asking Kafka",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns, WithRetention("a week")), channelConfig(), authSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonRetentionInvalid, "%s", retentionError(t, "a week"))},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithRetention("a week"), configParsed,
				func(kc *messagingv1beta1.KafkaChannel) {
					kc.Status.MarkTopicFailed(ReasonRetentionInvalid, "%s", retentionError(t, "a week"))
				})}},
		},
	}, {
		TableRow: TableRow{
			Name:       "a failing retention update marks TopicReady False and retries",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicConfigFailed, "altering: POLICY_VIOLATION: Request parameters do not satisfy the configured policy.")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed(ReasonTopicConfigFailed, "altering: POLICY_VIOLATION: Request parameters do not satisfy the configured policy.")
			})}},
		},
		kafka:       &fakeKafka{configErr: fmt.Errorf("altering: %w", kerr.PolicyViolation)},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:       "a changed retention is set on the existing topic",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns, topicRecorded, prepared, served), channelConfig(), authSecret(), channelServiceObject()},
			WantEvents: []string{Eventf(corev1.EventTypeNormal, ReasonTopicConfigUpdated, `set retention.ms=3600000 on topic "knative-messaging-kafka.ns.orders"`)},
		},
		kafka: &fakeKafka{configChanged: true}, published: map[string]uint64{channelUID: 7}, dataPlane: servedBy(7),
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:         "a failing service creation marks ChannelServiceReady False and retries",
			Key:          channelKey,
			Objects:      []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret()},
			WantErr:      true,
			WithReactors: []clientgotesting.ReactionFunc{InduceFailure("create", "services")},
			WantCreates:  []runtime.Object{channelServiceObject()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonServiceFailed,
				"creating Service ns/orders-kn-channel: inducing failure for create services")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, topicReady, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkServiceFailed(ReasonServiceFailed, "creating Service ns/orders-kn-channel: inducing failure for create services")
			})}},
		},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a service someone changed is put back",
			Key:  channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, topicRecorded, prepared, served), channelConfig(), authSecret(), channelServiceObject(func(svc *corev1.Service) {
				svc.Labels = map[string]string{"app": "mine"}
				svc.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.1", Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}
			})},
			WantUpdates: []clientgotesting.UpdateActionImpl{{Object: channelServiceObject(func(svc *corev1.Service) {
				svc.Labels = map[string]string{"app": "mine", RoleLabel: "kafka-channel"}
			})}},
		},
		published: map[string]uint64{channelUID: 7}, dataPlane: servedBy(7),
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a service of the channel's name that the channel does not own is reported and left alone",
			Key:  channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(), channelServiceObject(func(svc *corev1.Service) {
				svc.OwnerReferences = nil
			})},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonServiceNotOwned,
				"Service ns/orders-kn-channel exists and is not owned by the channel")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, configParsed, topicReady, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkServiceFailed(ReasonServiceNotOwned, "Service ns/orders-kn-channel exists and is not owned by the channel")
			})}},
		},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "an unresolvable dead-letter sink marks DeadLetterSinkResolved False and retries",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, withDeadLetterRef), channelConfig(), authSecret(), channelServiceObject()},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonDeadLetterSinkFailed,
				`resolving the dead-letter sink: failed to get object ns/missing: services.serving.knative.dev "missing" not found`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, withDeadLetterRef, configParsed, topicReady, serviceReady,
				func(kc *messagingv1beta1.KafkaChannel) {
					kc.Status.MarkDeadLetterSinkFailed(ReasonDeadLetterSinkFailed, `failed to get object ns/missing: services.serving.knative.dev "missing" not found`)
				})}},
		},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a served channel is Ready with its address, its dead-letter sink and every served subscriber True",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, withDeadLetterURI, WithSubscribers(subscriber("a"), withReply(subscriber("b")))),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, withDeadLetterURI,
				WithSubscribers(subscriber("a"), withReply(subscriber("b"))),
				configParsed, topicReady, serviceReady, dlsResolved(deadLetterURI), served,
				WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, ""), subscriberStatus("b", corev1.ConditionTrue, "")),
			)}},
		},
		published: map[string]uint64{channelUID: 7, "a": 7, "b": 8},
		dataPlane: &fakeDataPlane{status: contract.Status{
			Generation: 8,
			Ingresses:  map[string]contract.ServingStatus{channelUID: {Ready: true}},
			Egresses:   map[string]contract.ServingStatus{"a": {Ready: true}, "b": {Ready: true}},
		}},
		wantResources: []contract.Resource{wantResource()},
		wantEgresses: []setEgress{
			{channelUID, wantEgress("a", func(e *contract.Egress) { e.DeadLetter = "http://dls.ns.svc.cluster.local" })},
			{channelUID, wantEgress("b", func(e *contract.Egress) {
				e.DeadLetter = "http://dls.ns.svc.cluster.local"
				e.Reply = contract.Reply{Kind: contract.ReplyURL, URL: "http://reply.ns.svc.cluster.local"}
			})},
		},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "subscribers are Unknown until the dispatcher serves them, and the channel is requeued",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a"), subscriber("b"))), channelConfig(), authSecret(), channelServiceObject()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithSubscribers(subscriber("a"), subscriber("b")),
				prepared, served, WithSubscriberStatuses(
					subscriberStatus("a", corev1.ConditionUnknown, "JoiningGroup: the consumer group is joining"),
					subscriberStatus("b", corev1.ConditionUnknown, "ContractNotPublished: the subscription's contract entry is not published yet"),
				))}},
		},
		published: map[string]uint64{channelUID: 7, "a": 7},
		dataPlane: &fakeDataPlane{status: contract.Status{
			Generation: 7,
			Ingresses:  map[string]contract.ServingStatus{channelUID: {Ready: true}},
			Egresses:   map[string]contract.ServingStatus{"a": {Reason: "JoiningGroup", Message: "the consumer group is joining"}},
		}},
		wantResources: []contract.Resource{wantResource()},
		wantEgresses:  []setEgress{{channelUID, wantEgress("a")}, {channelUID, wantEgress("b")}},
		wantEnsured:   []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "a data plane behind the contract leaves the channel Unknown",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(), channelServiceObject()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, prepared,
				dataPlaneUnknown(ReasonContractNotApplied, "the data plane applied contract generation 7; the channel is in generation 8"))}},
		},
		published: map[string]uint64{channelUID: 8}, dataPlane: servedBy(7),
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "an ingress that does not serve the channel yet reports its reason",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(), channelServiceObject()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, prepared,
				dataPlaneUnknown("TopicNotFound", "no metadata yet"))}},
		},
		published: map[string]uint64{channelUID: 7},
		dataPlane: &fakeDataPlane{status: contract.Status{Generation: 7, Ingresses: map[string]contract.ServingStatus{
			channelUID: {Reason: "TopicNotFound", Message: "no metadata yet"},
		}}},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "an unreachable data plane leaves the channel and its subscribers Unknown",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a"))), channelConfig(), authSecret(), channelServiceObject()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithSubscribers(subscriber("a")), prepared,
				dataPlaneUnknown(ReasonDataPlaneUnreachable, "connection refused"),
				WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionUnknown, "DataPlaneUnreachable: connection refused")))}},
		},
		published: map[string]uint64{channelUID: 7, "a": 7}, dataPlane: &fakeDataPlane{err: errors.New("connection refused")},
		wantResources: []contract.Resource{wantResource()}, wantEgresses: []setEgress{{channelUID, wantEgress("a")}},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a subscriber that cannot be delivered is False and the others are still served",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, WithSubscribers(withDelivery(subscriber("a"), "10s"), subscriber("b"))),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded,
				WithSubscribers(withDelivery(subscriber("a"), "10s"), subscriber("b")), prepared, served,
				WithSubscriberStatuses(
					subscriberStatus("a", corev1.ConditionFalse, "the subscription cannot be delivered: "+egressError(t, withDelivery(subscriber("a"), "10s"))),
					subscriberStatus("b", corev1.ConditionTrue, ""),
				))}},
		},
		published: map[string]uint64{channelUID: 7, "b": 7}, dataPlane: servedBy(7, "b"),
		wantResources:       []contract.Resource{wantResource()},
		wantEgresses:        []setEgress{{channelUID, wantEgress("b")}},
		wantDeletedEgresses: [][2]string{{channelUID, "a"}},
		wantEnsured:         []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a removed subscriber's egress is deleted and it leaves the status",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, topicRecorded, WithSubscribers(subscriber("a")), prepared, served,
					WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, ""), subscriberStatus("old", corev1.ConditionTrue, ""))),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithSubscribers(subscriber("a")), prepared, served,
				WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, "")))}},
		},
		published: map[string]uint64{channelUID: 7, "a": 7}, dataPlane: servedBy(7, "a"),
		wantResources:       []contract.Resource{wantResource()},
		wantEgresses:        []setEgress{{channelUID, wantEgress("a")}},
		wantDeletedEgresses: [][2]string{{channelUID, "old"}},
		wantEnsured:         []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "each subscriber is delivered in its Subscription's order, else in the channel's default order",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, WithChannelOrder("unordered"),
					WithSubscribers(subscriber("a"), subscriber("b"), subscriber("c"), subscriber("d"))),
				NewSubscription("a", ns, WithSubscriptionOrder("Key-Ordered")),
				NewSubscription("b", ns),
				// c has no Subscription in the lister yet; d's is in another namespace, and a
				// Subscription of its name in the channel's namespace is another one.
				NewSubscription("d", "other", WithSubscriptionOrder("ordered")),
				NewSubscription("not-d", ns, WithSubscriptionOrder("key-ordered"), func(s *messagingv1.Subscription) { s.Name = "sub-d" }),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithChannelOrder("unordered"),
				WithSubscribers(subscriber("a"), subscriber("b"), subscriber("c"), subscriber("d")), prepared, served,
				WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, ""), subscriberStatus("b", corev1.ConditionTrue, ""),
					subscriberStatus("c", corev1.ConditionTrue, ""), subscriberStatus("d", corev1.ConditionTrue, "")))}},
		},
		published: map[string]uint64{channelUID: 7, "a": 7, "b": 7, "c": 7, "d": 7}, dataPlane: servedBy(7, "a", "b", "c", "d"),
		wantResources: []contract.Resource{wantResource()},
		wantEgresses: []setEgress{
			{channelUID, wantEgress("a", withOrder(contract.KeyOrdered))},
			{channelUID, wantEgress("b", withOrder(contract.Unordered))},
			{channelUID, wantEgress("c", withOrder(contract.Unordered))},
			{channelUID, wantEgress("d")},
		},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a Subscription with an invalid delivery order is False with the reason, an event on it, and the others are still served",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a"), subscriber("b"))),
				NewSubscription("a", ns, WithSubscriptionOrder("fifo")),
				NewSubscription("b", ns, WithSubscriptionOrder("UNORDERED")),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonDeliveryOrderInvalid,
				`the channel does not deliver this subscription: annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "fifo"`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded,
				WithSubscribers(subscriber("a"), subscriber("b")), prepared, served,
				WithSubscriberStatuses(
					subscriberStatus("a", corev1.ConditionFalse, `the subscription cannot be delivered: subscriber a: subscription: annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "fifo"`),
					subscriberStatus("b", corev1.ConditionTrue, ""),
				))}},
		},
		published: map[string]uint64{channelUID: 7, "b": 7}, dataPlane: servedBy(7, "b"),
		wantResources:       []contract.Resource{wantResource()},
		wantEgresses:        []setEgress{{channelUID, wantEgress("b", withOrder(contract.Unordered))}},
		wantDeletedEgresses: [][2]string{{channelUID, "a"}},
		wantEnsured:         []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "a channel whose delivery-order annotation is invalid (the webhook was bypassed) marks its subscribers False",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, WithChannelOrder("fifo"), WithSubscribers(subscriber("a"))),
				channelConfig(), authSecret(), channelServiceObject(),
			},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, topicRecorded, WithChannelOrder("fifo"),
				WithSubscribers(subscriber("a")), prepared, served,
				WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionFalse,
					`the subscription cannot be delivered: subscriber a: channel ns/orders: annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "fifo"`)))}},
		},
		published: map[string]uint64{channelUID: 7}, dataPlane: servedBy(7),
		wantResources:       []contract.Resource{wantResource()},
		wantDeletedEgresses: [][2]string{{channelUID, "a"}},
		wantEnsured:         []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "an already reconciled channel causes no writes",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, topicRecorded, WithSubscribers(subscriber("a")), prepared, served,
					WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, ""))),
				channelConfig(), authSecret(), channelServiceObject(),
			},
		},
		published: map[string]uint64{channelUID: 7, "a": 7}, dataPlane: servedBy(7, "a"),
		wantResources: []contract.Resource{wantResource()}, wantEgresses: []setEgress{{channelUID, wantEgress("a")}},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name: "deleting a channel removes its entry, its subscriptions' consumer groups and its topic",
			Key:  channelKey,
			Objects: []runtime.Object{
				NewKafkaChannel(channelName, ns, deleted, WithSubscribers(subscriber("b"), subscriber("a")),
					WithSubscriberStatuses(subscriberStatus("a", corev1.ConditionTrue, ""), subscriberStatus("old", corev1.ConditionTrue, ""))),
				channelConfig(), authSecret(),
			},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, channelName)},
		},
		wantDeletedResources: []string{channelUID},
		wantGroupsDeleted:    [][]string{{"kafka.ns.orders.a", "kafka.ns.orders.b", "kafka.ns.orders.old"}},
		wantTopicsDeleted:    []string{topic},
	}, {
		TableRow: TableRow{
			Name:        "deleting a channel without subscribers deletes its topic and no consumer group",
			Key:         channelKey,
			Objects:     []runtime.Object{NewKafkaChannel(channelName, ns, deleted), channelConfig(), authSecret()},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, channelName)},
		},
		wantDeletedResources: []string{channelUID},
		wantTopicsDeleted:    []string{topic},
	}, {
		TableRow: TableRow{
			Name:        "deleting a channel whose config is gone removes its entry and leaves Kafka alone",
			Key:         channelKey,
			Objects:     []runtime.Object{NewKafkaChannel(channelName, ns, deleted, WithSubscribers(subscriber("a")))},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents: []string{
				Eventf(corev1.EventTypeWarning, ReasonTopicNotDeleted,
					`the channel config or its Kafka Secret is gone or invalid: topic "knative-messaging-kafka.ns.orders" and its consumer groups are left in Kafka`),
				Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, channelName),
			},
		},
		wantDeletedResources: []string{channelUID},
	}, {
		TableRow: TableRow{
			Name:    "deleting a channel whose subscriptions are still consumed waits for the data plane",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, deleted, WithSubscribers(subscriber("a"))), channelConfig(), authSecret()},
			WantErr: true,
		},
		kafka:                &fakeKafka{deleteGroups: fmt.Errorf("deleting: %w", kerr.NonEmptyGroup)},
		wantDeletedResources: []string{channelUID},
		wantGroupsDeleted:    [][]string{{"kafka.ns.orders.a"}},
	}, {
		TableRow: TableRow{
			Name:       "a failing topic deletion keeps the finalizer and retries",
			Key:        channelKey,
			Objects:    []runtime.Object{NewKafkaChannel(channelName, ns, deleted), channelConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "InternalError", `deleting topic "knative-messaging-kafka.ns.orders": REQUEST_TIMED_OUT: The request timed out.`)},
		},
		kafka:                &fakeKafka{deleteErr: kerr.RequestTimedOut},
		wantDeletedResources: []string{channelUID},
		wantTopicsDeleted:    []string{topic},
	}, {
		TableRow: TableRow{
			Name:    "a recorded topic wins over a changed channels-topic-template: the channel keeps its topic",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns, topicRecorded, prepared, served), channelConfig(), authSecret(), channelServiceObject(), featuresConfig("channels-topic-template", "changed-{{ .Name }}")},
		},
		published: map[string]uint64{channelUID: 7}, dataPlane: servedBy(7),
		wantResources: []contract.Resource{wantResource()},
		wantEnsured:   []kafka.TopicSpec{wantTopicSpec()}, wantConfigured: wantRetention(),
	}, {
		TableRow: TableRow{
			Name:    "a new channel's topic is named by channels-topic-template and recorded",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(), channelServiceObject(), featuresConfig("channels-topic-template", "knative-channel-{{ .Namespace }}-{{ .Name }}")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, withRecordedTopic("knative-channel-ns-orders"), prepared, served,
				func(kc *messagingv1beta1.KafkaChannel) { kc.Status.MarkTopicReady("knative-channel-ns-orders") })}},
		},
		published: map[string]uint64{channelUID: 7}, dataPlane: servedBy(7),
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.Topic = "knative-channel-ns-orders"
			return r
		}()},
		wantEnsured: []kafka.TopicSpec{func() kafka.TopicSpec {
			spec := wantTopicSpec()
			spec.Name = "knative-channel-ns-orders"
			return spec
		}()},
		wantConfigured: []topicConfigCall{{Topic: "knative-channel-ns-orders", Configs: map[string]string{"retention.ms": "3600000"}}},
	}, {
		TableRow: TableRow{
			Name:    "a channels-topic-template yielding an invalid name marks TopicReady False",
			Key:     channelKey,
			Objects: []runtime.Object{NewKafkaChannel(channelName, ns), channelConfig(), authSecret(), featuresConfig("channels-topic-template", "{{ .Namespace }}:{{ .Name }}")},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonNameTemplateInvalid,
				`naming the topic: template channels-topic-template: the topic name "ns:orders" has characters other than ASCII letters, digits, '.', '_' and '-'`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: NewKafkaChannel(channelName, ns, configParsed, func(kc *messagingv1beta1.KafkaChannel) {
				kc.Status.MarkTopicFailed(ReasonNameTemplateInvalid,
					`naming the topic: template channels-topic-template: the topic name "ns:orders" has characters other than ASCII letters, digits, '.', '_' and '-'`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:        "deleting a channel after a template change deletes its recorded topic",
			Key:         channelKey,
			Objects:     []runtime.Object{NewKafkaChannel(channelName, ns, deleted, withRecordedTopic("old-topic")), channelConfig(), authSecret(), featuresConfig("channels-topic-template", "new-{{ .Name }}")},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, channelName)},
		},
		wantDeletedResources: []string{channelUID},
		wantTopicsDeleted:    []string{"old-topic"},
	}}

	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.kafka == nil {
				r.kafka = &fakeKafka{}
			}
			if r.dataPlane == nil {
				r.dataPlane = &fakeDataPlane{}
			}
			store := &fakeStore{published: r.published}
			r.Test(t, makeFactory(r.kafka, store, r.dataPlane))

			check := func(what string, want, got any) {
				t.Helper()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			check("contract resources set", r.wantResources, store.Resources)
			check("contract egresses set", r.wantEgresses, store.Egresses)
			check("contract resources deleted", r.wantDeletedResources, store.DeletedResources)
			check("contract egresses deleted", r.wantDeletedEgresses, store.DeletedEgresses)
			check("topics ensured", r.wantEnsured, r.kafka.Ensured)
			check("topic configs updated", r.wantConfigured, r.kafka.Configured)
			check("topics deleted", r.wantTopicsDeleted, r.kafka.DeletedTopics)
			check("consumer groups deleted", r.wantGroupsDeleted, r.kafka.DeletedGroups)
			if r.wantSecurity != nil {
				check("security of the connections", r.wantSecurity, r.kafka.Security)
			}
		})
	}
}

// TestSubscribersBecomeReadyOnceServed reconciles one channel twice: before the data plane applied
// the contract its subscriber is Unknown and the channel is requeued; afterwards both are ready.
func TestSubscribersBecomeReadyOnceServed(t *testing.T) {
	ls := newListers([]runtime.Object{channelConfig(), authSecret(), channelServiceObject()})
	ctx, _ := testContext(t, ls)
	ctx, _ = fakekubeclient.With(ctx, ls.kubeObjects()...)
	store := &fakeStore{published: map[string]uint64{channelUID: 3, "a": 3}}
	dataPlane := &fakeDataPlane{status: contract.Status{Generation: 2}}
	r := newReconciler(ctx, ls, &fakeKafka{}, store, dataPlane)
	kc := NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a")))

	event := r.ReconcileKind(ctx, kc)
	if ok, delay := controller.IsRequeueKey(event); !ok || delay != r.pollInterval {
		t.Fatalf("first ReconcileKind = %v, want a requeue after %v", event, r.pollInterval)
	}
	want := []eventingduckv1.SubscriberStatus{subscriberStatus("a", corev1.ConditionUnknown,
		"ContractNotApplied: the data plane applied contract generation 2; the subscription is in generation 3")}
	if diff := cmp.Diff(want, kc.Status.Subscribers); diff != "" {
		t.Errorf("subscribers before the data plane caught up (-want +got):\n%s", diff)
	}
	if kc.Status.IsReady() || kc.Status.Address != nil {
		t.Errorf("channel Ready with address %v before the data plane caught up", kc.Status.Address)
	}

	dataPlane.set(contract.Status{
		Generation: 3,
		Ingresses:  map[string]contract.ServingStatus{channelUID: {Ready: true}},
		Egresses:   map[string]contract.ServingStatus{"a": {Ready: true}},
	}, nil)
	if event := r.ReconcileKind(ctx, kc); event != nil {
		t.Fatalf("second ReconcileKind = %v, want nil", event)
	}
	want = []eventingduckv1.SubscriberStatus{subscriberStatus("a", corev1.ConditionTrue, "")}
	if diff := cmp.Diff(want, kc.Status.Subscribers); diff != "" {
		t.Errorf("subscribers once served (-want +got):\n%s", diff)
	}
	if !kc.Status.IsReady() {
		t.Errorf("channel not Ready once served: %+v", kc.Status.Conditions)
	}
	if got, want := kc.Status.Address.URL.String(), "http://orders-kn-channel.ns.svc.cluster.local"; got != want {
		t.Errorf("address = %s, want %s", got, want)
	}
}

// TestRemovedSubscriberEgressIsDeletedWhenTheStatusWasLost covers a status update that never
// landed: the reconciler still remembers the egress it set and deletes it.
func TestRemovedSubscriberEgressIsDeletedWhenTheStatusWasLost(t *testing.T) {
	ls := newListers([]runtime.Object{channelConfig(), authSecret(), channelServiceObject()})
	ctx, _ := testContext(t, ls)
	ctx, _ = fakekubeclient.With(ctx, ls.kubeObjects()...)
	store := &fakeStore{}
	r := newReconciler(ctx, ls, &fakeKafka{}, store, &fakeDataPlane{})

	_ = r.ReconcileKind(ctx, NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a"), subscriber("b"))))
	// The status written by the first pass is lost: the next channel has none.
	_ = r.ReconcileKind(ctx, NewKafkaChannel(channelName, ns, WithSubscribers(subscriber("a"))))
	if diff := cmp.Diff([][2]string{{channelUID, "b"}}, store.DeletedEgresses); diff != "" {
		t.Errorf("egresses deleted (-want +got):\n%s", diff)
	}

	// Finalizing forgets the channel and deletes the consumer group of every subscriber it knew.
	k := &fakeKafka{}
	r.kafka = k.get
	if event := r.FinalizeKind(ctx, NewKafkaChannel(channelName, ns, deleted)); event != nil {
		t.Fatalf("FinalizeKind = %v", event)
	}
	if diff := cmp.Diff([][]string{{"kafka.ns.orders.a"}}, k.DeletedGroups); diff != "" {
		t.Errorf("consumer groups deleted (-want +got):\n%s", diff)
	}
	if got := r.egresses.forget(channelUID); got != nil {
		t.Errorf("the ledger still holds %v after finalizing", got)
	}
}

func withDeadLetterURI(kc *messagingv1beta1.KafkaChannel) {
	kc.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: deadLetterURI}}
}

func withDeadLetterRef(kc *messagingv1beta1.KafkaChannel) {
	kc.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "missing"},
	}}
}

func withReply(s eventingduckv1.SubscriberSpec) eventingduckv1.SubscriberSpec {
	s.ReplyURI = apis.HTTP("reply.ns.svc.cluster.local")
	return s
}

func withDelivery(s eventingduckv1.SubscriberSpec, timeout string) eventingduckv1.SubscriberSpec {
	s.Delivery = &eventingduckv1.DeliverySpec{Timeout: ptr.String(timeout)}
	return s
}

// servedBy is a data plane at generation that serves the channel's ingress and the egresses.
func servedBy(generation uint64, egresses ...string) *fakeDataPlane {
	status := contract.Status{Generation: generation, Ingresses: map[string]contract.ServingStatus{channelUID: {Ready: true}}}
	for _, uid := range egresses {
		if status.Egresses == nil {
			status.Egresses = map[string]contract.ServingStatus{}
		}
		status.Egresses[uid] = contract.ServingStatus{Ready: true}
	}
	return &fakeDataPlane{status: status}
}

func wantResource() contract.Resource {
	return contract.Resource{
		UID: channelUID, Kind: contract.KindKafkaChannel, Namespace: ns, Name: channelName,
		Topic:            topic,
		BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
		Auth:             &contract.SecretRef{Namespace: systemNS, Name: "kafka-auth"},
		Ingress:          &contract.Ingress{Path: "/ns/orders", Host: "orders-kn-channel.ns.svc.cluster.local"},
	}
}

func wantEgress(uid string, opts ...func(*contract.Egress)) contract.Egress {
	e := contract.Egress{
		UID: uid, Kind: contract.KindSubscription, Namespace: ns, Name: "sub-" + uid,
		ConsumerGroup: "kafka.ns.orders." + uid,
		Destination:   "http://" + uid + ".ns.svc.cluster.local",
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
		Order:         contract.Ordered,
	}
	for _, opt := range opts {
		opt(&e)
	}
	return e
}

func withOrder(order contract.DeliveryOrder) func(*contract.Egress) {
	return func(e *contract.Egress) { e.Order = order }
}

func wantTopicSpec() kafka.TopicSpec {
	retention := "3600000"
	return kafka.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1, Config: map[string]*string{"retention.ms": &retention}}
}

func wantRetention() []topicConfigCall {
	return []topicConfigCall{{Topic: topic, Configs: map[string]string{"retention.ms": "3600000"}}}
}

// retentionError is the error spec.retentionDuration d gives.
func retentionError(t *testing.T, d string) string {
	t.Helper()
	_, err := NewKafkaChannel(channelName, ns, WithRetention(d)).RetentionDuration()
	if err == nil {
		t.Fatalf("retention %q is valid", d)
	}
	return err.Error()
}

// egressError is the error building sub's egress gives.
func egressError(t *testing.T, sub eventingduckv1.SubscriberSpec) string {
	t.Helper()
	_, err := contractbuild.SubscriberEgress(NewKafkaChannel(channelName, ns), sub, nil, nil)
	if err == nil {
		t.Fatalf("subscriber %s is valid", sub.UID)
	}
	return err.Error()
}

func patchFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = channelName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":["` + finalizer + `"],"resourceVersion":""}}`)
	return action
}

func patchRemoveFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = channelName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)
	return action
}
