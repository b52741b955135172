package kafkasink

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
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	logtesting "knative.dev/pkg/logging/testing"
	pkgreconciler "knative.dev/pkg/reconciler"
	. "knative.dev/pkg/reconciler/testing"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	fakeclientset "knkafka.dev/control-plane/pkg/client/clientset/versioned/fake"
	fakeclient "knkafka.dev/control-plane/pkg/client/injection/client/fake"
	kafkasinkreconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/eventing/v1alpha1/kafkasink"
	eventinglisters "knkafka.dev/control-plane/pkg/client/listers/eventing/v1alpha1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
)

const (
	ns        = "ns"
	sinkName  = "orders-sink"
	sinkUID   = "sink-uid"
	sinkKey   = ns + "/" + sinkName
	topic     = "orders"
	finalizer = "kafkasinks.eventing.knative.dev"
)

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
	// wantSecurity, when set, is the Security.String() of every connection to Kafka.
	wantSecurity []string
}

var served = fakeDataPlane{status: contract.Status{Generation: 7, Ingresses: map[string]contract.ServingStatus{sinkUID: {Ready: true}}}}

func TestReconcileKind(t *testing.T) {
	const (
		secretMissing = `secret "ns/kafka-auth": secret not found`
		saslRefused   = `Kafka refused the connection made with keys ["user" "password" "sasl.mechanism"] of secret "ns/kafka-auth": creating topic: SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`
		notFound      = `topic "orders" does not exist; create it, or set numPartitions and replicationFactor to have the sink create it`
	)
	published := map[string]uint64{sinkUID: 7}
	rows := []row{{
		TableRow: TableRow{Name: "a sink that no longer exists is not an error", Key: "ns/gone"},
	}, {
		TableRow: TableRow{
			Name:        "the first reconcile adds the finalizer",
			Key:         sinkKey,
			Objects:     []runtime.Object{newSink(withoutFinalizer)},
			WantPatches: []clientgotesting.PatchActionImpl{patchFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sinkName)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withoutFinalizer,
				configParsed, topicExternal, servedAddress)}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: published, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:              "a sink on an existing topic is Ready with its address once served",
			Key:               sinkKey,
			Objects:           []runtime.Object{newSink()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, topicExternal, servedAddress)}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: published, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic}, wantSecurity: []string{"PLAINTEXT"},
	}, {
		TableRow: TableRow{
			Name:              "a sink that owns its topic creates it with its partitions and replication",
			Key:               sinkKey,
			Objects:           []runtime.Object{newSink(withOwned)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withOwned, configParsed, topicOwned, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: published, dataPlane: served,
		wantResources: []contract.Resource{wantResource()},
		wantEnsured:   []kafka.TopicSpec{{Name: topic, Partitions: 3, ReplicationFactor: 1}},
	}, {
		TableRow: TableRow{
			Name:              "structured mode reaches the contract entry",
			Key:               sinkKey,
			Objects:           []runtime.Object{newSink(structured)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(structured, configParsed, topicExternal, servedAddress)}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: published, dataPlane: served,
		wantResources: []contract.Resource{func() contract.Resource {
			r := wantResource()
			r.ContentMode = contract.ContentModeStructured
			return r
		}()},
		wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:    "an already reconciled sink is not written again",
			Key:     sinkKey,
			Objects: []runtime.Object{newSink(configParsed, topicExternal, servedAddress)},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: published, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:       "a missing topic the sink does not own marks TopicReady False and retries, without an entry",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicNotFound, `topic "orders" does not exist`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkTopicFailed(ReasonTopicNotFound, notFound)
			})}},
		},
		kafka: &fakeKafka{}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:       "an unreachable Kafka marks TopicReady False and retries",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonKafkaUnavailable, `connecting to Kafka [kafka-1:9092 kafka-2:9092]: dial refused`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkTopicFailed(ReasonKafkaUnavailable, "dial refused")
			})}},
		},
		kafka: &fakeKafka{connectErr: errors.New("dial refused")},
	}, {
		TableRow: TableRow{
			Name:       "an owned topic with fewer partitions than asked is reported and not retried",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink(withOwned)},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonTopicPartitions, `topic "orders" has 1 partitions, fewer than the 3 requested`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withOwned, configParsed, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkTopicFailed(ReasonTopicPartitions, `topic "orders" has 1 partitions, fewer than the 3 requested`)
			})}},
		},
		kafka:       &fakeKafka{ensureErr: &kafka.PartitionsError{Topic: topic, Have: 1, Want: 3}},
		wantEnsured: []kafka.TopicSpec{{Name: topic, Partitions: 3, ReplicationFactor: 1}},
	}, {
		TableRow: TableRow{
			Name:       "a missing auth Secret marks ConfigParsed False with SecretNotFound naming it, and keeps the entry",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink(withAuth)},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretNotFound", secretMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withAuth, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkConfigFailed("SecretNotFound", secretMissing)
			})}},
		},
		kafka:         &fakeKafka{},
		wantResources: []contract.Resource{wantResource(withResourceAuth)},
	}, {
		TableRow: TableRow{
			Name:              "the auth Secret's settings reach Kafka",
			Key:               sinkKey,
			Objects:           []runtime.Object{newSink(withAuth, withOwned), authSecret()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withAuth, withOwned, configParsed, topicOwned, servedAddress)}},
		},
		kafka: &fakeKafka{}, published: published, dataPlane: served,
		wantResources: []contract.Resource{wantResource(withResourceAuth)},
		wantEnsured:   []kafka.TopicSpec{{Name: topic, Partitions: 3, ReplicationFactor: 1}},
		wantSecurity:  []string{"SASL_PLAINTEXT/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:       "credentials the cluster refuses mark TopicReady False with SASLAuthenticationFailed, retry, and keep the entry",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink(withAuth, withOwned), authSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SASLAuthenticationFailed", saslRefused)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(withAuth, withOwned, configParsed, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkTopicFailed("SASLAuthenticationFailed", saslRefused)
			})}},
		},
		kafka:         &fakeKafka{ensureErr: fmt.Errorf("creating topic: %w", kerr.SaslAuthenticationFailed)},
		wantResources: []contract.Resource{wantResource(withResourceAuth)},
		wantEnsured:   []kafka.TopicSpec{{Name: topic, Partitions: 3, ReplicationFactor: 1}},
	}, {
		TableRow: TableRow{
			Name:    "a sink whose entry is not published yet has ConfigMapUpdated Unknown and is requeued",
			Key:     sinkKey,
			Objects: []runtime.Object{newSink()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, topicExternal, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkConfigMapUnknown(ReasonContractNotPublished, "the sink's contract entry is not published yet")
			})}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:    "a data plane behind the contract leaves DataPlaneAvailable Unknown",
			Key:     sinkKey,
			Objects: []runtime.Object{newSink()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, topicExternal, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkConfigMapUpdated()
				ks.Status.MarkDataPlaneUnknown(ReasonContractNotApplied, "the data plane applied contract generation 7; the sink is in generation 8")
			})}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: map[string]uint64{sinkUID: 8}, dataPlane: served,
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:    "an ingress that does not serve the sink leaves ProbeSucceeded Unknown with its reason",
			Key:     sinkKey,
			Objects: []runtime.Object{newSink()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSink(configParsed, topicExternal, func(ks *eventingv1alpha1.KafkaSink) {
				ks.Status.MarkConfigMapUpdated()
				ks.Status.MarkDataPlaneAvailable()
				ks.Status.MarkProbeUnknown("TopicNotFound", `topic "orders" does not exist`)
			})}},
		},
		kafka: &fakeKafka{existing: map[string]bool{topic: true}}, published: published,
		dataPlane: fakeDataPlane{status: contract.Status{Generation: 7, Ingresses: map[string]contract.ServingStatus{
			sinkUID: {Reason: "TopicNotFound", Message: `topic "orders" does not exist`},
		}}},
		wantResources: []contract.Resource{wantResource()}, wantChecked: []string{topic},
	}, {
		TableRow: TableRow{
			Name:        "deleting a sink on an external topic removes its entry and leaves the topic",
			Key:         sinkKey,
			Objects:     []runtime.Object{newSink(deleted)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sinkName)},
		},
		kafka: &fakeKafka{}, dataPlane: served,
		wantDeleted: []string{sinkUID},
	}, {
		TableRow: TableRow{
			Name:    "deleting a sink that owns its topic waits while the ingress still serves it",
			Key:     sinkKey,
			Objects: []runtime.Object{newSink(withOwned, deleted)},
			WantErr: true,
		},
		kafka: &fakeKafka{}, dataPlane: served,
		wantDeleted: []string{sinkUID},
	}, {
		TableRow: TableRow{
			Name:        "deleting a sink that owns its topic deletes the topic once the ingress dropped it",
			Key:         sinkKey,
			Objects:     []runtime.Object{newSink(withOwned, deleted, withAuth), authSecret()},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sinkName)},
		},
		kafka: &fakeKafka{}, dataPlane: fakeDataPlane{status: contract.Status{Generation: 8, Ingresses: map[string]contract.ServingStatus{}}},
		wantDeleted: []string{sinkUID}, wantTopicsDel: []string{topic}, wantSecurity: []string{"SASL_PLAINTEXT/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:        "deleting a sink with an unreachable data plane does not wait for it",
			Key:         sinkKey,
			Objects:     []runtime.Object{newSink(withOwned, deleted)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sinkName)},
		},
		kafka: &fakeKafka{}, dataPlane: fakeDataPlane{err: errors.New("no ingress pods")},
		wantDeleted: []string{sinkUID}, wantTopicsDel: []string{topic},
	}, {
		TableRow: TableRow{
			Name:        "deleting a sink whose auth Secret is gone removes its entry and leaves its topic",
			Key:         sinkKey,
			Objects:     []runtime.Object{newSink(withOwned, deleted, withAuth)},
			WantPatches: []clientgotesting.PatchActionImpl{patchRemoveFinalizers()},
			WantEvents: []string{
				Eventf(corev1.EventTypeWarning, ReasonTopicNotDeleted, `the sink's Kafka Secret is gone or invalid: topic "orders" is left in Kafka`),
				Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sinkName),
			},
		},
		kafka: &fakeKafka{}, dataPlane: fakeDataPlane{status: contract.Status{Generation: 8}},
		wantDeleted: []string{sinkUID},
	}, {
		TableRow: TableRow{
			Name:       "a failing topic deletion keeps the finalizer and retries",
			Key:        sinkKey,
			Objects:    []runtime.Object{newSink(withOwned, deleted)},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "InternalError", `deleting topic "orders": REQUEST_TIMED_OUT: The request timed out.`)},
		},
		kafka: &fakeKafka{deleteErr: kerr.RequestTimedOut}, dataPlane: fakeDataPlane{status: contract.Status{Generation: 8}},
		wantDeleted: []string{sinkUID}, wantTopicsDel: []string{topic},
	}}

	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.kafka == nil {
				r.kafka = &fakeKafka{}
			}
			store := &fakeStore{published: r.published}
			r.Test(t, makeFactory(store, r.kafka, r.dataPlane))
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
			if r.wantSecurity != nil {
				check("security of the connections", r.wantSecurity, r.kafka.Security)
			}
		})
	}
}

// makeFactory builds the generated KafkaSink reconciler around a Reconciler using the fakes.
func makeFactory(store *fakeStore, k *fakeKafka, dataPlane DataPlane) Factory {
	return func(t *testing.T, row *TableRow) (controller.Reconciler, ActionRecorderList, EventList) {
		scheme := runtime.NewScheme()
		utilruntime.Must(kubescheme.AddToScheme(scheme))
		utilruntime.Must(fakeclientset.AddToScheme(scheme))
		sorter := NewObjectSorter(scheme)
		sorter.AddObjects(row.Objects...)

		ctx := logging.WithLogger(context.Background(), logtesting.TestLogger(t))
		recorder := record.NewFakeRecorder(20)
		ctx = controller.WithEventRecorder(ctx, recorder)
		ctx, client := fakeclient.With(ctx, sorter.ObjectsForSchemeFunc(fakeclientset.AddToScheme)...)
		row.Ctx = ctx

		rec := &Reconciler{
			credentials:  kafka.NewCredentials(corelisters.NewSecretLister(sorter.IndexerForObjectType(&corev1.Secret{}))),
			tracker:      &FakeTracker{},
			kafka:        k.get,
			contract:     store,
			dataPlane:    dataPlane,
			pollInterval: time.Second,
		}
		lister := eventinglisters.NewKafkaSinkLister(sorter.IndexerForObjectType(&eventingv1alpha1.KafkaSink{}))
		c := kafkasinkreconciler.NewReconciler(ctx, logging.FromContext(ctx), client, lister, recorder, rec)
		if la, ok := c.(pkgreconciler.LeaderAware); ok {
			_ = la.Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {})
		}
		for _, reactor := range row.WithReactors {
			client.PrependReactor("*", "*", reactor)
		}
		return c, ActionRecorderList{client}, EventList{Recorder: recorder}
	}
}

// newSink is a defaulted, finalized KafkaSink at generation 1 on an existing topic whose status
// describes that generation with every condition Unknown; opts change it.
func newSink(opts ...func(*eventingv1alpha1.KafkaSink)) *eventingv1alpha1.KafkaSink {
	mode := eventingv1alpha1.ModeBinary
	ks := &eventingv1alpha1.KafkaSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sinkName, UID: sinkUID, Generation: 1, Finalizers: []string{finalizer}},
		Spec: eventingv1alpha1.KafkaSinkSpec{
			Topic:            topic,
			BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
			ContentMode:      &mode,
		},
	}
	ks.Status.InitializeConditions()
	ks.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

func withoutFinalizer(ks *eventingv1alpha1.KafkaSink) { ks.Finalizers = nil }

func deleted(ks *eventingv1alpha1.KafkaSink) {
	ks.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
}

func withOwned(ks *eventingv1alpha1.KafkaSink) {
	partitions, replication := int32(3), int16(1)
	ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = &partitions, &replication
}

func structured(ks *eventingv1alpha1.KafkaSink) {
	mode := eventingv1alpha1.ModeStructured
	ks.Spec.ContentMode = &mode
}

func withAuth(ks *eventingv1alpha1.KafkaSink) {
	ks.Spec.Auth = &eventingv1alpha1.Auth{Secret: &eventingv1alpha1.Secret{Ref: &eventingv1alpha1.SecretReference{Name: "kafka-auth"}}}
}

func configParsed(ks *eventingv1alpha1.KafkaSink) { ks.Status.MarkConfigParsed() }

func topicExternal(ks *eventingv1alpha1.KafkaSink) { ks.Status.MarkTopicReady(topic, false) }

func topicOwned(ks *eventingv1alpha1.KafkaSink) { ks.Status.MarkTopicReady(topic, true) }

func servedAddress(ks *eventingv1alpha1.KafkaSink) {
	ks.Status.MarkConfigMapUpdated()
	ks.Status.MarkDataPlaneAvailable()
	ks.Status.MarkProbeSucceeded()
	ks.Status.SetAddress(contractbuild.SinkAddress(ks, ""))
}

// authSecret is the kafka-auth Secret withAuth names: SASL_PLAINTEXT with SCRAM-SHA-512.
func authSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kafka-auth"},
		Data: map[string][]byte{
			"protocol":       []byte("SASL_PLAINTEXT"),
			"sasl.mechanism": []byte("SCRAM-SHA-512"),
			"user":           []byte("sink-user"),
			"password":       []byte("sink-password"),
		},
	}
}

func wantResource(opts ...func(*contract.Resource)) contract.Resource {
	r := contract.Resource{
		UID: sinkUID, Kind: contract.KindKafkaSink, Namespace: ns, Name: sinkName,
		Topic:            topic,
		BootstrapServers: []string{"kafka-1:9092", "kafka-2:9092"},
		Ingress:          &contract.Ingress{Path: "/ns/orders-sink", PathHost: contractbuild.DefaultSinkIngressHost},
		ContentMode:      contract.ContentModeBinary,
	}
	for _, opt := range opts {
		opt(&r)
	}
	return r
}

func withResourceAuth(r *contract.Resource) {
	r.Auth = &contract.SecretRef{Namespace: ns, Name: "kafka-auth"}
}

func patchFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = sinkName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":["` + finalizer + `"],"resourceVersion":""}}`)
	return action
}

func patchRemoveFinalizers() clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = sinkName, ns
	action.Patch = []byte(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)
	return action
}

func TestTheAddressIsThePathOnTheSinkIngress(t *testing.T) {
	got := contractbuild.SinkAddress(newSink(), "").String()
	if want := "http://kafka-sink-ingress.knative-eventing.svc.cluster.local/ns/orders-sink"; got != want {
		t.Errorf("address = %s, want %s", got, want)
	}
}
