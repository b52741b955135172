package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgotesting "k8s.io/client-go/testing"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	fakeeventingclient "knative.dev/eventing/pkg/client/injection/client/fake"
	brokerreconciler "knative.dev/eventing/pkg/client/injection/reconciler/eventing/v1/broker"
	reconcilertesting "knative.dev/eventing/pkg/reconciler/testing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	logtesting "knative.dev/pkg/logging/testing"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/resolver"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
)

const (
	ns         = "ns"
	brokerName = "default"
	brokerUID  = "broker-uid"
	topic      = "knative-broker-ns-default"
	finalizer  = "brokers.eventing.knative.dev"
	brokerKey  = ns + "/" + brokerName
)

var address = apis.HTTP("kafka-broker-ingress.knative-eventing.svc.cluster.local")

func init() {
	address.Path = "/ns/default"
	RegisterConditionSet()
}

// row is a TableRow plus the collaborators' answers and what they should have been asked.
type row struct {
	TableRow
	kafka     *fakeKafka
	published map[string]uint64
	dataPlane fakeDataPlane
	// want* are the calls the collaborators must have seen.
	wantResources []contract.Resource
	wantDeleted   []string
	wantEnsured   []kafka.TopicSpec
	wantChecked   []string
	wantTopicsDel []string
	wantGroupsDel [][]string
	// wantSecurity, when set, is the Security.String() of every connection to Kafka.
	wantSecurity []string
}

func TestReconcileKind(t *testing.T) {
	served := fakeDataPlane{status: contract.Status{Generation: 7, Ingresses: map[string]contract.ServingStatus{brokerUID: {Ready: true}}}}
	const (
		secretMissing = `secret "knative-eventing/kafka-auth": secret not found`
		keyMissing    = `key "password" of secret "knative-eventing/kafka-auth": SASL password is missing or empty`
		oauth         = `key "sasl.mechanism" of secret "knative-eventing/kafka-auth": SASL mechanism OAUTHBEARER is not supported by knkafka yet; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`
		saslRefused   = `Kafka refused the connection made with keys ["user" "password" "sasl.mechanism"] of secret "knative-eventing/kafka-auth": creating topic: SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`
	)
	rows := []row{{
		TableRow: TableRow{
			Name:       "a missing auth Secret marks ConfigParsed False with SecretNotFound naming it, and keeps the entry",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretNotFound", secretMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, "SecretNotFound", secretMissing)
			})}},
		},
		kafka:         &fakeKafka{},
		wantResources: []contract.Resource{wantResource()},
	}, {
		TableRow: TableRow{
			Name:       "an auth Secret without its password marks ConfigParsed False with SecretKeyMissing naming the key",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret(func(s *corev1.Secret) { delete(s.Data, "password") })},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretKeyMissing", keyMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, "SecretKeyMissing", keyMissing)
			})}},
		},
		kafka:         &fakeKafka{},
		wantResources: []contract.Resource{wantResource()},
	}, {
		TableRow: TableRow{
			Name:       "an auth Secret asking for OAUTHBEARER says it is not supported",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret(func(s *corev1.Secret) { s.Data["sasl.mechanism"] = []byte("OAUTHBEARER") })},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "OAuthBearerUnsupported", oauth)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, "OAuthBearerUnsupported", oauth)
			})}},
		},
		kafka:         &fakeKafka{},
		wantResources: []contract.Resource{wantResource()},
	}, {
		TableRow: TableRow{
			Name:              "the auth Secret's settings reach Kafka, given as stringData too",
			Key:               brokerKey,
			Objects:           []runtime.Object{newBroker(), brokerConfig(), authSecret(func(s *corev1.Secret) { s.StringData = map[string]string{"sasl.mechanism": "SCRAM-SHA-256"} })},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
		wantSecurity: []string{"SASL_PLAINTEXT/SCRAM-SHA-256"},
	}, {
		TableRow: TableRow{
			Name:              "a broker without auth.secret.ref.name connects in PLAINTEXT",
			Key:               brokerKey,
			Objects:           []runtime.Object{newBroker(), brokerConfig(func(cm *corev1.ConfigMap) { delete(cm.Data, "auth.secret.ref.name") })},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.Auth = nil
			return r
		}()},
		wantEnsured:  []kafka.TopicSpec{wantTopicSpec()},
		wantSecurity: []string{"PLAINTEXT"},
	}, {
		TableRow: TableRow{
			Name:       "credentials the cluster refuses mark TopicReady False with SASLAuthenticationFailed, retry, and keep the entry",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SASLAuthenticationFailed", saslRefused)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, "SASLAuthenticationFailed", saslRefused)
			})}},
		},
		kafka:         &fakeKafka{ensureErr: fmt.Errorf("creating topic: %w", kerr.SaslAuthenticationFailed)},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
		wantSecurity: []string{"SASL_PLAINTEXT/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:    "a refused external-topic check says so too",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withExternalTopic), brokerConfig(), authSecret()},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SASLAuthenticationFailed",
				`checking topic "existing": Kafka refused the connection made with keys ["user" "password" "sasl.mechanism"] of secret "knative-eventing/kafka-auth": SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withExternalTopic, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, "SASLAuthenticationFailed", `checking topic "existing": Kafka refused the connection made with keys ["user" "password" "sasl.mechanism"] of secret "knative-eventing/kafka-auth": SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`)
			})}},
		},
		kafka: &fakeKafka{existsErr: kerr.SaslAuthenticationFailed},
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.Topic = "existing"
			return r
		}()},
		wantChecked:  []string{"existing"},
		wantSecurity: []string{"SASL_PLAINTEXT/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:        "deleting a broker whose auth Secret is gone removes its entry and leaves Kafka alone",
			Key:         brokerKey,
			Objects:     []runtime.Object{newBroker(deleted), brokerConfig()},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents: []string{
				Eventf(corev1.EventTypeWarning, ReasonTopicNotDeleted, `the broker config or its Kafka Secret is gone or invalid: topic "knative-broker-ns-default" and its consumer groups are left in Kafka`),
				Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName),
			},
		},
		kafka:       &fakeKafka{},
		wantDeleted: []string{brokerUID},
	}, {
		TableRow: TableRow{Name: "a broker that no longer exists is not an error", Key: "ns/gone"},
	}, {
		TableRow: TableRow{
			Name:    "a broker of another class is left alone",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(reconcilertesting.WithBrokerClass("MTChannelBasedBroker")), brokerConfig(), authSecret()},
		},
	}, {
		TableRow: TableRow{
			Name:        "the first reconcile adds the finalizer",
			Key:         brokerKey,
			Objects:     []runtime.Object{newBroker(withoutFinalizer), brokerConfig(), authSecret()},
			WantPatches: []clientgotesting.PatchActionImpl{patchFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
				Object: newBroker(withoutFinalizer, topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress),
			}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:       "a missing config map marks ConfigParsed False",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonConfigMapNotFound, "ConfigMap knative-eventing/kafka-broker-config does not exist")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigMapNotFound, "ConfigMap knative-eventing/kafka-broker-config does not exist")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "an invalid config marks ConfigParsed False",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(func(cm *corev1.ConfigMap) { delete(cm.Data, "bootstrap.servers") })},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonConfigInvalid,
				"ConfigMap knative-eventing/kafka-broker-config: bootstrap.servers is required")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigInvalid, "ConfigMap knative-eventing/kafka-broker-config: bootstrap.servers is required")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a config of another kind marks ConfigParsed False",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withConfigRef("Secret", "x"))},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonConfigInvalid,
				"spec.config must reference a v1 ConfigMap, got v1 Secret")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withConfigRef("Secret", "x"), func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigInvalid, "spec.config must reference a v1 ConfigMap, got v1 Secret")
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:       "a failing topic creation marks TopicReady False and retries",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicCreateFailed, "creating topic: BROKER_NOT_AVAILABLE: The broker is not available.")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicCreateFailed, "creating topic: BROKER_NOT_AVAILABLE: The broker is not available.")
			})}},
		},
		kafka:       &fakeKafka{ensureErr: fmt.Errorf("creating topic: %w", kerr.BrokerNotAvailable)},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:       "an unreachable Kafka marks TopicReady False and retries",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonKafkaUnavailable, "connecting to Kafka [kafka-1:9092 kafka-2:9092]: no route")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonKafkaUnavailable, "no route")
			})}},
		},
		kafka: &fakeKafka{connectErr: errors.New("no route")},
	}, {
		TableRow: TableRow{
			Name:       "an existing topic with too few partitions marks TopicReady False without retrying",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicPartitions, `topic "knative-broker-ns-default" has 1 partitions, fewer than the 3 requested`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicPartitions, `topic "knative-broker-ns-default" has 1 partitions, fewer than the 3 requested`)
			})}},
		},
		kafka:       &fakeKafka{ensureErr: &kafka.PartitionsError{Topic: topic, Have: 1, Want: 3}},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:       "a missing external topic marks TopicReady False and retries",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(withExternalTopic), brokerConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicNotFound, `external topic "existing" does not exist`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withExternalTopic, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicNotFound, `external topic "existing" does not exist`)
			})}},
		},
		kafka:       &fakeKafka{},
		wantChecked: []string{"existing"},
	}, {
		TableRow: TableRow{
			Name:    "an external topic is checked and never created",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withExternalTopic), brokerConfig(), authSecret()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withExternalTopic, configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicExternal", `using existing topic "existing"`)
			}, dlsNotConfigured, servedAddress)}},
		},
		kafka: &fakeKafka{existing: map[string]bool{"existing": true}}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantChecked: []string{"existing"},
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.Topic = "existing"
			return r
		}()},
	}, {
		TableRow: TableRow{
			Name:    "an unresolvable dead-letter sink marks DeadLetterSinkResolved False and retries",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withDeadLetterRef), brokerConfig(), authSecret()},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "DeadLetterSinkResolveFailed",
				`resolving the dead-letter sink: failed to get object ns/missing: services.serving.knative.dev "missing" not found`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withDeadLetterRef, topicRecorded, configParsed, topicCreated, func(b *eventingv1.Broker) {
				b.Status.MarkDeadLetterSinkResolvedFailed(ReasonDeadLetterSinkFailed, `failed to get object ns/missing: services.serving.knative.dev "missing" not found`)
			})}},
		},
		kafka:       &fakeKafka{},
		wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "a served broker is Ready with its address and its dead-letter sink",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withDeadLetterURI), brokerConfig(), authSecret()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withDeadLetterURI, topicRecorded, configParsed, topicCreated, func(b *eventingv1.Broker) {
				b.Status.MarkDeadLetterSinkResolvedSucceeded(eventingduckv1.DeliveryStatus{DeadLetterSinkURI: apis.HTTP("dls.ns.svc.cluster.local")})
			}, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "a broker whose entry is not published yet is Unknown and requeued",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured,
				dataPlaneUnknown(ReasonContractNotPublished, "the broker's contract entry is not published yet"))}},
		},
		kafka: &fakeKafka{}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "a data plane behind the contract leaves the broker Unknown",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured,
				dataPlaneUnknown(ReasonContractNotApplied, "the data plane applied contract generation 7; the broker is in generation 8"))}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 8}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "an ingress that does not serve the broker yet reports its reason",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured,
				dataPlaneUnknown("TopicNotFound", "no metadata yet"))}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7},
		dataPlane:     fakeDataPlane{status: contract.Status{Generation: 7, Ingresses: map[string]contract.ServingStatus{brokerUID: {Reason: "TopicNotFound", Message: "no metadata yet"}}}},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "an unreachable data plane leaves the broker Unknown",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured,
				dataPlaneUnknown(ReasonDataPlaneUnreachable, "connection refused"))}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: fakeDataPlane{err: errors.New("connection refused")},
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "an already reconciled broker causes no writes",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress), brokerConfig(), authSecret()},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:        "deleting a broker removes its entry, its triggers' consumer groups and its topic",
			Key:         brokerKey,
			Objects:     []runtime.Object{newBroker(deleted), brokerConfig(), authSecret(), newTrigger("a", brokerName), newTrigger("b", "other"), newTrigger("c", brokerName)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName)},
		},
		kafka:         &fakeKafka{},
		wantDeleted:   []string{brokerUID},
		wantGroupsDel: [][]string{{"knative-trigger-ns-a", "knative-trigger-ns-c"}},
		wantTopicsDel: []string{topic},
	}, {
		TableRow: TableRow{
			Name:        "deleting a broker with an external topic keeps the topic",
			Key:         brokerKey,
			Objects:     []runtime.Object{newBroker(deleted, withExternalTopic), brokerConfig(), authSecret()},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName)},
		},
		kafka:         &fakeKafka{},
		wantDeleted:   []string{brokerUID},
		wantGroupsDel: [][]string{nil},
	}, {
		TableRow: TableRow{
			Name:        "deleting a broker whose config is gone removes its entry and leaves Kafka alone",
			Key:         brokerKey,
			Objects:     []runtime.Object{newBroker(deleted)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents: []string{
				Eventf(corev1.EventTypeWarning, ReasonTopicNotDeleted, `the broker config or its Kafka Secret is gone or invalid: topic "knative-broker-ns-default" and its consumer groups are left in Kafka`),
				Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName),
			},
		},
		kafka:       &fakeKafka{},
		wantDeleted: []string{brokerUID},
	}, {
		TableRow: TableRow{
			Name:    "deleting a broker whose triggers are still consumed waits for the data plane",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(deleted), brokerConfig(), authSecret(), newTrigger("a", brokerName)},
			WantErr: true,
		},
		kafka:         &fakeKafka{deleteGroups: fmt.Errorf("deleting: %w", kerr.NonEmptyGroup)},
		wantDeleted:   []string{brokerUID},
		wantGroupsDel: [][]string{{"knative-trigger-ns-a"}},
	}, {
		TableRow: TableRow{
			Name:       "a failing topic deletion keeps the finalizer and retries",
			Key:        brokerKey,
			Objects:    []runtime.Object{newBroker(deleted), brokerConfig(), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "InternalError", `deleting topic "knative-broker-ns-default": REQUEST_TIMED_OUT: The request timed out.`)},
		},
		kafka:         &fakeKafka{deleteErr: kerr.RequestTimedOut},
		wantDeleted:   []string{brokerUID},
		wantGroupsDel: [][]string{nil},
		wantTopicsDel: []string{topic},
	}, {
		TableRow: TableRow{
			Name:    "a new broker's topic is named by brokers-topic-template and recorded",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret(), featuresConfig("brokers-topic-template", "custom.{{ .Namespace }}.{{ .Name }}")},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withRecordedTopic("custom.ns.default"), configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicCreated", "topic %q", "custom.ns.default")
			}, dlsNotConfigured, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{withTopic(wantResource(), "custom.ns.default")},
		wantEnsured:   []kafka.TopicSpec{withTopicName(wantTopicSpec(), "custom.ns.default")},
	}, {
		TableRow: TableRow{
			Name:    "a recorded topic wins over a changed template: the broker keeps its topic",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress), brokerConfig(), authSecret(), featuresConfig("brokers-topic-template", "changed-{{ .Name }}")},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name:    "a topic the incumbent recorded under another template is kept",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(withRecordedTopic("knative-broker-custom")), brokerConfig(), authSecret()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(withRecordedTopic("knative-broker-custom"), configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicCreated", "topic %q", "knative-broker-custom")
			}, dlsNotConfigured, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{withTopic(wantResource(), "knative-broker-custom")},
		wantEnsured:   []kafka.TopicSpec{withTopicName(wantTopicSpec(), "knative-broker-custom")},
	}, {
		TableRow: TableRow{
			Name:    "a template that yields an invalid topic name marks TopicReady False",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret(), featuresConfig("brokers-topic-template", "{{ .Namespace }}/{{ .Name }}")},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonNameTemplateInvalid,
				`naming the topic: template brokers-topic-template: the topic name "ns/default" has characters other than ASCII letters, digits, '.', '_' and '-'`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonNameTemplateInvalid,
					`naming the topic: template brokers-topic-template: the topic name "ns/default" has characters other than ASCII letters, digits, '.', '_' and '-'`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a template that does not parse marks TopicReady False naming the ConfigMap",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(), brokerConfig(), authSecret(), featuresConfig("brokers-topic-template", "{{ .Name")},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonNameTemplateInvalid,
				`naming the topic: ConfigMap knative-eventing/config-kafka-features: brokers-topic-template: template: brokers-topic-template:1: unclosed action`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newBroker(configParsed, func(b *eventingv1.Broker) {
				conditions(b).MarkFalse(ConditionTopicReady, ReasonNameTemplateInvalid,
					`naming the topic: ConfigMap knative-eventing/config-kafka-features: brokers-topic-template: template: brokers-topic-template:1: unclosed action`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a broker with a recorded topic still works while the template does not parse",
			Key:     brokerKey,
			Objects: []runtime.Object{newBroker(topicRecorded, configParsed, topicCreated, dlsNotConfigured, servedAddress), brokerConfig(), authSecret(), featuresConfig("brokers-topic-template", "{{ .Name")},
		},
		kafka: &fakeKafka{}, published: map[string]uint64{brokerUID: 7}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantEnsured: []kafka.TopicSpec{wantTopicSpec()},
	}, {
		TableRow: TableRow{
			Name: "deleting a broker after a template change deletes the recorded topic and groups, not the templates' names",
			Key:  brokerKey,
			Objects: []runtime.Object{newBroker(deleted, withRecordedTopic("old-topic")), brokerConfig(), authSecret(),
				featuresConfig("brokers-topic-template", "new-{{ .Name }}", "triggers-consumergroup-template", "new-{{ .Name }}"),
				withRecordedGroup(newTrigger("a", brokerName), "old-group-a"), newTrigger("c", brokerName)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, brokerName)},
		},
		kafka:         &fakeKafka{},
		wantDeleted:   []string{brokerUID},
		wantGroupsDel: [][]string{{"new-c", "old-group-a"}},
		wantTopicsDel: []string{"old-topic"},
	}}

	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.kafka == nil {
				r.kafka = &fakeKafka{}
			}
			store := &fakeStore{published: r.published}
			r.Test(t, reconcilertesting.MakeFactory(func(ctx context.Context, listers *reconcilertesting.Listers, _ configmap.Watcher) controller.Reconciler {
				ctx = addressable.WithDuck(ctx)
				rec := &Reconciler{
					configMaps:      listers.GetConfigMapLister(),
					triggers:        listers.GetTriggerLister(),
					credentials:     kafka.NewCredentials(listers.GetSecretLister()),
					kafka:           r.kafka.get,
					contract:        store,
					dataPlane:       r.dataPlane,
					resolver:        resolver.NewURIResolverFromTracker(ctx, &FakeTracker{}),
					tracker:         &FakeTracker{},
					systemNamespace: "knative-eventing",
					pollInterval:    time.Second,
				}
				return brokerreconciler.NewReconciler(ctx, logging.FromContext(ctx), fakeeventingclient.Get(ctx),
					listers.GetBrokerLister(), controller.GetEventRecorder(ctx), rec, eventing.BrokerClass)
			}, false, logtesting.TestLogger(t)))

			check := func(what string, want, got any) {
				t.Helper()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			check("contract entries set", r.wantResources, store.Set)
			check("contract entries deleted", r.wantDeleted, store.Deleted)
			check("topics ensured", r.wantEnsured, r.kafka.Ensured)
			check("topics checked", r.wantChecked, r.kafka.Checked)
			check("topics deleted", r.wantTopicsDel, r.kafka.DeletedTopics)
			check("consumer groups deleted", r.wantGroupsDel, r.kafka.DeletedGroups)
			if r.wantSecurity != nil {
				check("security of the connections", r.wantSecurity, r.kafka.Security)
			}
		})
	}
}

func newBroker(opts ...reconcilertesting.BrokerOption) *eventingv1.Broker {
	b := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: brokerName, UID: brokerUID, Generation: 1,
			Annotations: map[string]string{brokerreconciler.ClassAnnotationKey: eventing.BrokerClass},
			Finalizers:  []string{finalizer},
		},
		Spec: eventingv1.BrokerSpec{Config: &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "knative-eventing", Name: "kafka-broker-config"}},
	}
	b.Status.InitializeConditions()
	b.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(b)
	}
	return b
}

func withoutFinalizer(b *eventingv1.Broker) { b.Finalizers = nil }

func deleted(b *eventingv1.Broker) { b.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }

func withExternalTopic(b *eventingv1.Broker) {
	b.Annotations["kafka.eventing.knative.dev/external.topic"] = "existing"
}

func withConfigRef(kind, name string) reconcilertesting.BrokerOption {
	return func(b *eventingv1.Broker) {
		b.Spec.Config = &duckv1.KReference{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
}

func withDeadLetterURI(b *eventingv1.Broker) {
	b.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: apis.HTTP("dls.ns.svc.cluster.local")}}
}

func withDeadLetterRef(b *eventingv1.Broker) {
	b.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "missing"},
	}}
}

// topicRecorded records the default topic name in b's status, as a reconcile does.
func topicRecorded(b *eventingv1.Broker) { withRecordedTopic(topic)(b) }

func withRecordedTopic(name string) reconcilertesting.BrokerOption {
	return func(b *eventingv1.Broker) {
		if b.Status.Annotations == nil {
			b.Status.Annotations = map[string]string{}
		}
		b.Status.Annotations["default.topic"] = name
	}
}

func withRecordedGroup(t *eventingv1.Trigger, group string) *eventingv1.Trigger {
	t.Status.Annotations = map[string]string{"group.id": group}
	return t
}

// featuresConfig is config-kafka-features with the given key-value pairs.
func featuresConfig(kv ...string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "config-kafka-features"}, Data: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		cm.Data[kv[i]] = kv[i+1]
	}
	return cm
}

func withTopic(r contract.Resource, name string) contract.Resource {
	r.Topic = name
	return r
}

func withTopicName(spec kafka.TopicSpec, name string) kafka.TopicSpec {
	spec.Name = name
	return spec
}

func configParsed(b *eventingv1.Broker) { conditions(b).MarkTrue(ConditionConfigParsed) }

func topicCreated(b *eventingv1.Broker) {
	conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicCreated", "topic %q", topic)
}

func dlsNotConfigured(b *eventingv1.Broker) { b.Status.MarkDeadLetterSinkNotConfigured() }

func dataPlaneUnknown(reason, message string) reconcilertesting.BrokerOption {
	return func(b *eventingv1.Broker) {
		conditions(b).MarkUnknown(ConditionDataPlaneAvailable, reason, "%s", message)
	}
}

func servedAddress(b *eventingv1.Broker) {
	conditions(b).MarkTrue(ConditionDataPlaneAvailable)
	b.Status.SetAddress(&duckv1.Addressable{URL: address})
	b.Status.Addresses = []duckv1.Addressable{*b.Status.Address}
}

func brokerConfig(opts ...func(*corev1.ConfigMap)) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "kafka-broker-config"},
		Data: map[string]string{
			"bootstrap.servers":                 "kafka-1:9092,kafka-2:9092",
			"default.topic.partitions":          "3",
			"default.topic.replication.factor":  "1",
			"default.topic.config.retention.ms": "3600000",
			"auth.secret.ref.name":              "kafka-auth",
		},
	}
	for _, opt := range opts {
		opt(cm)
	}
	return cm
}

// authSecret is the kafka-auth Secret brokerConfig names: SASL_PLAINTEXT with SCRAM-SHA-512.
func authSecret(opts ...func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "knative-eventing", Name: "kafka-auth"},
		Data: map[string][]byte{
			"protocol":       []byte("SASL_PLAINTEXT"),
			"sasl.mechanism": []byte("SCRAM-SHA-512"),
			"user":           []byte("broker-user"),
			"password":       []byte("broker-password"),
		},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

func newTrigger(name, broker string) *eventingv1.Trigger {
	return &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		Spec:       eventingv1.TriggerSpec{Broker: broker},
	}
}

func wantResource() contract.Resource {
	return contract.Resource{
		UID: brokerUID, Kind: contract.KindBroker, Namespace: ns, Name: brokerName,
		Topic:            topic,
		BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
		Auth:             &contract.SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"},
		Ingress:          &contract.Ingress{Path: "/ns/default"},
	}
}

func wantTopicSpec() kafka.TopicSpec {
	retention := "3600000"
	return kafka.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1, Config: map[string]*string{"retention.ms": &retention}}
}

func patchFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = brokerName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":["` + finalizer + `"],"resourceVersion":""}}`)
	return action
}

func patchRemoveFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = brokerName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)
	return action
}
