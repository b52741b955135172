package kafkasource

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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/ptr"
	pkgreconciler "knative.dev/pkg/reconciler"
	. "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/resolver"

	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	fakeclientset "knkafka.dev/control-plane/pkg/client/clientset/versioned/fake"
	fakeclient "knkafka.dev/control-plane/pkg/client/injection/client/fake"
	kafkasourcereconciler "knkafka.dev/control-plane/pkg/client/injection/reconciler/sources/v1beta1/kafkasource"
	sourceslisters "knkafka.dev/control-plane/pkg/client/listers/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/kafkaconn"
)

const (
	ns         = "ns"
	sourceName = "orders"
	sourceUID  = "source-uid"
	sourceKey  = ns + "/" + sourceName
	finalizer  = "kafkasources.sources.knative.dev"
)

var (
	sinkURI   = apis.HTTP("sink.ns.svc.cluster.local")
	dlsURI    = apis.HTTP("dls.ns.svc.cluster.local")
	ksvcURI   = apis.HTTP("ksvc-sink.ns.example.com")
	knServing = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
)

type row struct {
	TableRow
	kafka     *fakeKafka
	published map[string]uint64
	dataPlane fakeDataPlane
	// want* are the calls the contract store must have seen.
	wantResources []contract.Resource
	wantEgresses  []setEgress
	wantDeleted   []string
	// wantSecurity, when set, is the Security.String() of every connection to Kafka.
	wantSecurity []string
}

func TestReconcileKind(t *testing.T) {
	const (
		userMissing     = `net.sasl.type: secret "kafka-user": secret not found`
		passwordMissing = `net.sasl.password: key "password" of secret "kafka-user": key is missing or empty`
		oauth           = `net.sasl.type: key "mechanism" of secret "kafka-user": SASL mechanism OAUTHBEARER is not supported by knkafka yet; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`
		saslRefused     = `Kafka refused the connection made with net.sasl.user (key "user" of secret "ns/kafka-user"), net.sasl.password (key "password" of secret "ns/kafka-user"), net.sasl.type (key "mechanism" of secret "ns/kafka-user"): asking the cluster for its brokers: SASL_AUTHENTICATION_FAILED: SASL Authentication failed.`
	)
	served := fakeDataPlane{status: contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{sourceUID: {Ready: true}}}}
	published := map[string]uint64{sourceUID: 5}
	rows := []row{{
		TableRow: TableRow{Name: "a source that no longer exists is not an error", Key: "ns/gone"},
	}, {
		TableRow: TableRow{
			Name:              "the first reconcile adds the finalizer, sets the entry and, once served, the source is Ready",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource(withoutFinalizer)},
			WantPatches:       []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":["kafkasources.sources.knative.dev"],"resourceVersion":""}}`)},
			WantEvents:        []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sourceName)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withoutFinalizer, ready)}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:              "a served source scaled to 3 consumers reports 3 in the scale subresource's status",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource(ready, func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.Consumers = ptr.Int32(3) })},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(ready, func(ks *sourcesv1beta1.KafkaSource) { ks.Spec.Consumers, ks.Status.Consumers = ptr.Int32(3), 3 })}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:    "an already reconciled source causes no writes",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(ready)},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:              "a sink referring to a Knative Service is resolved to its address",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource(withSinkRef("ksvc-sink"))},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withSinkRef("ksvc-sink"), ready, func(ks *sourcesv1beta1.KafkaSource) { ks.Status.MarkSink(ksvcURI) })}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource(toKnativeService)},
		wantEgresses:  []setEgress{{sourceUID, egress(toKnativeService)}},
	}, {
		TableRow: TableRow{
			Name:    "an unresolvable sink marks SinkProvided False and retries",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(withSinkRef("missing"))},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SinkResolveFailed",
				`resolving the sink: failed to get object ns/missing: services.serving.knative.dev "missing" not found`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withSinkRef("missing"), emitting, configParsed, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkNoSink(ReasonSinkNotFound, `failed to get object ns/missing: services.serving.knative.dev "missing" not found`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "an unresolvable dead-letter sink marks DeadLetterSinkResolved False and retries",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(withDLSRef("missing"))},
			WantErr: true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonDeadLetterSinkFailed,
				`resolving the dead-letter sink: failed to get object ns/missing: services.serving.knative.dev "missing" not found`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withDLSRef("missing"), emitting, configParsed, sinkProvided, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkDeadLetterSinkFailed(ReasonDeadLetterSinkFailed, `failed to get object ns/missing: services.serving.knative.dev "missing" not found`)
			})}},
		},
	}, {
		TableRow: TableRow{
			Name:    "a source with a dead-letter sink and its own delivery has them in its egress",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(withDelivery)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withDelivery, emitting, configParsed, sinkProvided, consumerGroupReady, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkDeadLetterSinkResolved(dlsURI)
			})}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource(withDeadLetter)},
		wantEgresses:  []setEgress{{sourceUID, egress(withDeadLetter)}},
	}, {
		TableRow: TableRow{
			Name:              "a SASL_SSL source reads its Secrets, puts the references in its entry and, once served, is Ready",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource(withNet), userSecret(), caSecret()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withNet, ready)}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{netResource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
		wantSecurity: []string{"SASL_SSL/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:       "a missing Secret marks ConfigParsed False with SecretNotFound naming it and the field, and keeps the entry",
			Key:        sourceKey,
			Objects:    []runtime.Object{newSource(withNet, ready), caSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretNotFound", userMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withNet, ready, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkConsumerGroupFailed("SecretNotFound", "the source is not consumed while its Kafka credentials are unusable")
				ks.Status.MarkConfigFailed("SecretNotFound", userMissing)
			})}},
		},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{netResource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:       "a Secret without the referenced key marks ConfigParsed False with SecretKeyMissing naming the key",
			Key:        sourceKey,
			Objects:    []runtime.Object{newSource(withNet), userSecret(func(s *corev1.Secret) { delete(s.Data, "password") }), caSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SecretKeyMissing", passwordMissing)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withNet, emitting, sinkProvided, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkDeadLetterSinkNotConfigured()
				ks.Status.MarkConsumerGroupFailed("SecretKeyMissing", "the source is not consumed while its Kafka credentials are unusable")
				ks.Status.MarkConfigFailed("SecretKeyMissing", passwordMissing)
			})}},
		},
		wantResources: []contract.Resource{netResource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:       "a source asking for OAUTHBEARER says it is not supported",
			Key:        sourceKey,
			Objects:    []runtime.Object{newSource(withNet), userSecret(func(s *corev1.Secret) { s.Data["mechanism"] = []byte("OAUTHBEARER") }), caSecret()},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "OAuthBearerUnsupported", oauth)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withNet, emitting, sinkProvided, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkDeadLetterSinkNotConfigured()
				ks.Status.MarkConsumerGroupFailed("OAuthBearerUnsupported", "the source is not consumed while its Kafka credentials are unusable")
				ks.Status.MarkConfigFailed("OAuthBearerUnsupported", oauth)
			})}},
		},
		wantResources: []contract.Resource{netResource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:       "credentials the cluster refuses mark ConsumerGroup False with SASLAuthenticationFailed and retry",
			Key:        sourceKey,
			Objects:    []runtime.Object{newSource(withNet), userSecret(), caSecret()},
			WantErr:    true,
			WantEvents: []string{Eventf(corev1.EventTypeWarning, "SASLAuthenticationFailed", saslRefused)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withNet, prepared, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkConsumerGroupFailed("SASLAuthenticationFailed", saslRefused)
			})}},
		},
		kafka:         &fakeKafka{pingErr: fmt.Errorf("asking the cluster for its brokers: %w", kerr.SaslAuthenticationFailed)},
		wantResources: []contract.Resource{netResource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
		wantSecurity: []string{"SASL_SSL/SCRAM-SHA-512"},
	}, {
		TableRow: TableRow{
			Name:              "a cluster the controller cannot reach is left to the dispatchers' status",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource()},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(ready)}},
		},
		kafka:     &fakeKafka{pingErr: errors.New("dial tcp: connection refused")},
		published: published, dataPlane: served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
		wantSecurity: []string{"PLAINTEXT"},
	}, {
		TableRow: TableRow{
			Name:    "a key type the webhook would have refused is InvalidConfiguration",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(withKeyType("long"))},
			WantEvents: []string{Eventf(corev1.EventTypeWarning, ReasonInvalidConfiguration,
				`label kafkasources.sources.knative.dev/key-type must be one of [string int float byte-array], got "long"`)},
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(withKeyType("long"), emitting, func(ks *sourcesv1beta1.KafkaSource) {
				ks.Status.MarkConfigFailed(ReasonInvalidConfiguration, `label kafkasources.sources.knative.dev/key-type must be one of [string int float byte-array], got "long"`)
				ks.Status.MarkConsumerGroupFailed(ReasonInvalidConfiguration, "the source is not consumed while its configuration is unusable")
			})}},
		},
		wantDeleted: []string{sourceUID},
	}, {
		TableRow: TableRow{
			Name:              "a source whose entry is not published yet is Unknown and requeued",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource()},
			WantErr:           true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(prepared, consumerGroupUnknown("ContractNotPublished", "the source's contract entry is not published yet"))}},
		},
		dataPlane:     served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:    "a data plane behind the contract leaves the source Unknown",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource()},
			WantErr: true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(prepared,
				consumerGroupUnknown("ContractNotApplied", "the data plane applied contract generation 5; the source is in generation 6"))}},
		},
		published: map[string]uint64{sourceUID: 6}, dataPlane: served,
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:              "an unreachable data plane leaves the source Unknown",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource()},
			WantErr:           true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(prepared, consumerGroupUnknown("DataPlaneUnreachable", "connection refused"))}},
		},
		published: published, dataPlane: fakeDataPlane{err: errors.New("connection refused")},
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:              "a consumer group that has not joined yet leaves the source Unknown with the data plane's reason",
			Key:               sourceKey,
			Objects:           []runtime.Object{newSource()},
			WantErr:           true,
			WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: newSource(prepared, consumerGroupUnknown("JoiningGroup", "rebalancing"))}},
		},
		published:     published,
		dataPlane:     fakeDataPlane{status: contract.Status{Generation: 5, Egresses: map[string]contract.ServingStatus{sourceUID: {Reason: "JoiningGroup", Message: "rebalancing"}}}},
		wantResources: []contract.Resource{resource()}, wantEgresses: []setEgress{{sourceUID, egress()}},
	}, {
		TableRow: TableRow{
			Name:        "deleting a source removes its entry and drops the finalizer",
			Key:         sourceKey,
			Objects:     []runtime.Object{newSource(deleted, ready)},
			WantPatches: []clientgotesting.PatchActionImpl{patch(`{"metadata":{"finalizers":[],"resourceVersion":""}}`)},
			WantEvents:  []string{Eventf(corev1.EventTypeNormal, "FinalizerUpdate", `Updated %q finalizers`, sourceName)},
		},
		wantDeleted: []string{sourceUID},
	}, {
		TableRow: TableRow{
			Name:    "a deleted source without our finalizer has its entry removed all the same, and nothing written",
			Key:     sourceKey,
			Objects: []runtime.Object{newSource(deleted, withoutFinalizer)},
		},
		wantDeleted: []string{sourceUID},
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
			check("resources set", r.wantResources, store.Resources)
			check("egresses set", r.wantEgresses, store.Egresses)
			check("resources deleted", r.wantDeleted, store.Deleted)
			if r.wantSecurity != nil {
				check("security of the connections", r.wantSecurity, r.kafka.Security)
			}
		})
	}
}

func TestFinalizeKindIsIdempotent(t *testing.T) {
	store := &fakeStore{}
	r := &Reconciler{contract: store}
	for range 2 {
		if err := r.FinalizeKind(context.Background(), newSource(deleted)); err != nil {
			t.Fatalf("FinalizeKind: %v", err)
		}
	}
	if diff := cmp.Diff([]string{sourceUID, sourceUID}, store.Deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

// makeFactory builds the generated KafkaSource reconciler around a Reconciler using the fakes; the
// dynamic client holds a Knative Service "ksvc-sink" that sinks may refer to.
func makeFactory(store *fakeStore, k *fakeKafka, dataPlane DataPlane) Factory {
	return func(t *testing.T, row *TableRow) (controller.Reconciler, ActionRecorderList, EventList) {
		scheme := runtime.NewScheme()
		utilruntime.Must(kubescheme.AddToScheme(scheme))
		utilruntime.Must(fakeclientset.AddToScheme(scheme))
		sorter := NewObjectSorter(scheme)
		sorter.AddObjects(row.Objects...)

		ctx := logging.WithLogger(context.Background(), logtesting.TestLogger(t))
		dynamic := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
			map[schema.GroupVersionResource]string{knServing: "ServiceList"}, knativeService("ksvc-sink", ksvcURI))
		ctx = context.WithValue(ctx, dynamicclient.Key{}, dynamic)
		ctx = addressable.WithDuck(ctx)
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
			resolver:     resolver.NewURIResolverFromTracker(ctx, &FakeTracker{}),
			pollInterval: time.Second,
		}
		lister := sourceslisters.NewKafkaSourceLister(sorter.IndexerForObjectType(&sourcesv1beta1.KafkaSource{}))
		c := kafkasourcereconciler.NewReconciler(ctx, logging.FromContext(ctx), client, lister, recorder, rec)
		if la, ok := c.(pkgreconciler.LeaderAware); ok {
			_ = la.Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {})
		}
		for _, reactor := range row.WithReactors {
			client.PrependReactor("*", "*", reactor)
		}
		return c, ActionRecorderList{client}, EventList{Recorder: recorder}
	}
}

func knativeService(name string, url *apis.URL) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"namespace": ns, "name": name},
		"status":     map[string]any{"address": map[string]any{"url": url.String()}},
	}}
}

// newSource is a defaulted, finalized KafkaSource at generation 1 whose status describes that
// generation with every condition Unknown; opts change it.
func newSource(opts ...func(*sourcesv1beta1.KafkaSource)) *sourcesv1beta1.KafkaSource {
	ordered := sourcesv1beta1.Ordered
	ks := &sourcesv1beta1.KafkaSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sourceName, UID: sourceUID, Generation: 1, Finalizers: []string{finalizer}},
		Spec: sourcesv1beta1.KafkaSourceSpec{
			BootstrapServers: []string{"kafka:9092"},
			Topics:           []string{"orders", "refunds"},
			ConsumerGroup:    "orders-group",
			InitialOffset:    sourcesv1beta1.OffsetLatest,
			Consumers:        ptr.Int32(1),
			Ordering:         &ordered,
			SourceSpec:       duckv1.SourceSpec{Sink: duckv1.Destination{URI: sinkURI}},
		},
	}
	ks.Status.InitializeConditions()
	ks.Status.ObservedGeneration = 1
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

func withoutFinalizer(ks *sourcesv1beta1.KafkaSource) { ks.Finalizers = nil }

func deleted(ks *sourcesv1beta1.KafkaSource) {
	ks.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
}

func withSinkRef(name string) func(*sourcesv1beta1.KafkaSource) {
	return func(ks *sourcesv1beta1.KafkaSource) {
		ks.Spec.Sink = duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: name}}
	}
}

func withDLSRef(name string) func(*sourcesv1beta1.KafkaSource) {
	return func(ks *sourcesv1beta1.KafkaSource) {
		ks.Spec.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{
			Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: name},
		}}
	}
}

func withDelivery(ks *sourcesv1beta1.KafkaSource) {
	ks.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), DeadLetterSink: &duckv1.Destination{URI: dlsURI}}
}

// keyRef references key of Secret secret, as spec.net does.
func keyRef(secret, key string) sourcesv1beta1.SecretValueFromSource {
	return sourcesv1beta1.SecretValueFromSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}
}

// withNet enables SASL_SSL: SCRAM credentials in userSecret, the CA in caSecret.
func withNet(ks *sourcesv1beta1.KafkaSource) {
	ks.Spec.Net.SASL = sourcesv1beta1.KafkaSASLSpec{
		Enable: true, User: keyRef("kafka-user", "user"), Password: keyRef("kafka-user", "password"), Type: keyRef("kafka-user", "mechanism"),
	}
	ks.Spec.Net.TLS = sourcesv1beta1.KafkaTLSSpec{Enable: true, CACert: keyRef("kafka-ca", "ca.crt")}
}

func userSecret(opts ...func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kafka-user"},
		Data: map[string][]byte{
			"user":      []byte("source-user"),
			"password":  []byte("source-password"),
			"mechanism": []byte("SCRAM-SHA-512"),
		},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

func caSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kafka-ca"},
		Data:       map[string][]byte{"ca.crt": testCA},
	}
}

// netResource is resource() with withNet's references.
func netResource() contract.Resource {
	r := resource()
	r.Net = &kafkaconn.Net{
		SASL: kafkaconn.NetSASL{
			Enable:   true,
			User:     kafkaconn.KeyRef{Secret: "kafka-user", Key: "user"},
			Password: kafkaconn.KeyRef{Secret: "kafka-user", Key: "password"},
			Type:     kafkaconn.KeyRef{Secret: "kafka-user", Key: "mechanism"},
		},
		TLS: kafkaconn.NetTLS{Enable: true, CACert: kafkaconn.KeyRef{Secret: "kafka-ca", Key: "ca.crt"}},
	}
	return r
}

func withKeyType(kt string) func(*sourcesv1beta1.KafkaSource) {
	return func(ks *sourcesv1beta1.KafkaSource) {
		ks.Labels = map[string]string{sourcesv1beta1.KafkaKeyTypeLabel: kt}
	}
}

// emitting is status.ceAttributes: one type and source per topic.
func emitting(ks *sourcesv1beta1.KafkaSource) {
	ks.Status.CloudEventAttributes = []duckv1.CloudEventAttributes{
		{Type: "dev.knative.kafka.event", Source: "/apis/v1/namespaces/ns/kafkasources/orders#orders"},
		{Type: "dev.knative.kafka.event", Source: "/apis/v1/namespaces/ns/kafkasources/orders#refunds"},
	}
}

func configParsed(ks *sourcesv1beta1.KafkaSource) { ks.Status.MarkConfigParsed() }

func sinkProvided(ks *sourcesv1beta1.KafkaSource) { ks.Status.MarkSink(sinkURI) }

// consumerGroupReady marks the group ready and reports spec.consumers as running, as a served
// source does.
func consumerGroupReady(ks *sourcesv1beta1.KafkaSource) {
	ks.Status.MarkConsumerGroupReady()
	ks.Status.Consumers = *ks.Spec.Consumers
}

func consumerGroupUnknown(reason, message string) func(*sourcesv1beta1.KafkaSource) {
	return func(ks *sourcesv1beta1.KafkaSource) { ks.Status.MarkConsumerGroupUnknown(reason, "%s", message) }
}

// prepared is every step before the data plane: ceAttributes, config, sink, no dead-letter sink.
func prepared(ks *sourcesv1beta1.KafkaSource) {
	emitting(ks)
	configParsed(ks)
	sinkProvided(ks)
	ks.Status.MarkDeadLetterSinkNotConfigured()
}

func ready(ks *sourcesv1beta1.KafkaSource) {
	prepared(ks)
	consumerGroupReady(ks)
}

// resource is newSource()'s contract resource with egress(opts...); the store ignores its
// egresses, which are set one by one.
func resource(opts ...func(*contract.Egress)) contract.Resource {
	return contract.Resource{
		UID: sourceUID, Kind: contract.KindKafkaSource, Namespace: ns, Name: sourceName,
		Topics:           []string{"orders", "refunds"},
		BootstrapServers: []string{"kafka:9092"},
		Source:           &contract.Source{EventSource: "/apis/v1/namespaces/ns/kafkasources/orders", KeyType: contract.KeyString},
		Egresses:         []contract.Egress{egress(opts...)},
	}
}

func egress(opts ...func(*contract.Egress)) contract.Egress {
	e := contract.Egress{
		UID: sourceUID, Kind: contract.KindKafkaSource, Namespace: ns, Name: sourceName,
		ConsumerGroup: "orders-group",
		Destination:   sinkURI.String(),
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
		Delivery: contract.Delivery{
			Retry: 10, BackoffPolicy: contract.BackoffExponential,
			BackoffDelay: contract.Duration(300 * time.Millisecond), Timeout: contract.Duration(600 * time.Second),
		},
		Order:         contract.Ordered,
		InitialOffset: contract.OffsetLatest,
	}
	for _, opt := range opts {
		opt(&e)
	}
	return e
}

func toKnativeService(e *contract.Egress) { e.Destination = ksvcURI.String() }

func withDeadLetter(e *contract.Egress) {
	e.DeadLetter = dlsURI.String()
	e.Delivery = contract.Delivery{Retry: 3}
}

func patch(p string) clientgotesting.PatchActionImpl {
	action := clientgotesting.PatchActionImpl{}
	action.Name, action.Namespace = sourceName, ns
	action.Patch = []byte(p)
	return action
}
