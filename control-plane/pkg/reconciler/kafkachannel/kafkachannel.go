// Package kafkachannel reconciles KafkaChannels: it reads the kafka-channel-config ConfigMap,
// makes sure the channel's topic exists with the spec's retention, keeps the <name>-kn-channel
// ExternalName Service that gives the channel its host name, publishes the channel's contract
// entry with one egress per subscriber (delivered in the order its Subscription's, else the
// channel's, delivery-order annotation chooses), and reports the channel addressable — and each subscriber
// ready — once the data plane serves them. Reconciler holds the logic (this file: the checklist,
// config and topic; service.go: the Service; subscribers.go: egresses and readiness);
// NewController wires it to informers and to the collaborators in Deps.
package kafkachannel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	messaginglistersv1 "knative.dev/eventing/pkg/client/listers/messaging/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/tracker"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
	"knkafka.dev/control-plane/pkg/serving"
	"knkafka.dev/kafkaconn"
)

// Kafka is the part of a Kafka cluster the KafkaChannel reconciler uses.
type Kafka interface {
	EnsureTopic(ctx context.Context, spec kafka.TopicSpec) error
	// UpdateTopicConfig sets each of configs whose value on the topic differs and reports whether
	// it changed anything.
	UpdateTopicConfig(ctx context.Context, topic string, configs map[string]string) (bool, error)
	DeleteTopic(ctx context.Context, name string) error
	DeleteConsumerGroups(ctx context.Context, groups ...string) error
}

// KafkaFunc returns the cluster with the given bootstrap servers, reached with sec (nil for
// PLAINTEXT).
type KafkaFunc func(servers []string, sec *kafkaconn.Security) (Kafka, error)

// ContractStore holds the routing contract's resources and egresses.
type ContractStore interface {
	// SetResource sets a resource's entry (r.Egresses is ignored).
	SetResource(r contract.Resource)
	// DeleteResource removes a resource with its egresses.
	DeleteResource(uid string)
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

// Reasons of conditions and events. A Secret that cannot be used, or credentials the cluster
// refuses, give the kafkaconn.Reason (SecretNotFound, SecretKeyMissing, SASLAuthenticationFailed,
// ...) instead.
const (
	ReasonConfigMapNotFound      = "ConfigMapNotFound"
	ReasonConfigInvalid          = "ConfigInvalid"
	ReasonKafkaUnavailable       = "KafkaUnavailable"
	ReasonRetentionInvalid       = "RetentionInvalid"
	ReasonTopicCreateFailed      = "TopicCreateFailed"
	ReasonTopicPartitions        = "TopicPartitionsMismatch"
	ReasonTopicConfigFailed      = "TopicConfigUpdateFailed"
	ReasonTopicConfigUpdated     = "TopicConfigUpdated"
	ReasonServiceFailed          = "ChannelServiceFailed"
	ReasonServiceNotOwned        = "ChannelServiceNotOwned"
	ReasonDeadLetterSinkFailed   = "DeadLetterSinkResolveFailed"
	ReasonContractNotPublished   = serving.ReasonContractNotPublished
	ReasonDataPlaneUnreachable   = serving.ReasonDataPlaneUnreachable
	ReasonContractNotApplied     = serving.ReasonContractNotApplied
	ReasonIngressNotReady        = serving.ReasonIngressNotReady
	ReasonConsumerGroupNotReady  = serving.ReasonConsumerGroupNotReady
	ReasonTopicNotDeleted        = "TopicNotDeleted"
	ReasonConsumerGroupsNotEmpty = "ConsumerGroupsNotEmpty"
	// ReasonDeliveryOrderInvalid is recorded on a Subscription whose delivery-order annotation
	// is invalid.
	ReasonDeliveryOrderInvalid = "DeliveryOrderInvalid"
	// ReasonNameTemplateInvalid marks TopicReady False when channels-topic-template fails.
	ReasonNameTemplateInvalid = nametemplates.ReasonInvalid
)

// retentionKey is the topic config spec.retentionDuration sets.
const retentionKey = "retention.ms"

// Reconciler reconciles KafkaChannels.
type Reconciler struct {
	configMaps corelisters.ConfigMapLister
	services   corelisters.ServiceLister
	// subscriptions holds Knative's Subscriptions, whose delivery-order annotation the egresses
	// of their subscribers follow; nil reads no annotation (every subscriber gets the channel's
	// default).
	subscriptions messaginglistersv1.SubscriptionLister
	kube          kubernetes.Interface
	// credentials reads the auth Secret kafka-channel-config names; tracker requeues the
	// channels when it changes.
	credentials kafka.Credentials
	tracker     tracker.Interface
	kafka       KafkaFunc
	contract    ContractStore
	dataPlane   DataPlane
	resolver    *resolver.URIResolver
	// systemNamespace holds kafka-channel-config, config-kafka-features and the
	// kafka-channel-ingress Service.
	systemNamespace string
	// pollInterval is how soon a channel is looked at again while the data plane catches up.
	pollInterval time.Duration
	// egresses remembers which egresses this process set for each channel (see setContract).
	egresses egressLedger
}

// ReconcileKind makes kc's topic, Service and contract entries match kc, and reports kc and its
// subscribers ready once served.
func (r *Reconciler) ReconcileKind(ctx context.Context, kc *messagingv1beta1.KafkaChannel) pkgreconciler.Event {
	// 1. Read kafka-channel-config and the Kafka credentials it names. → ConfigParsed
	// 2. Name the topic (recorded, else from the template; record it), create it and align its
	//    retention with the spec.                                       → TopicReady
	// 3. Create or repair the <name>-kn-channel ExternalName Service.   → ChannelServiceReady
	// 4. Resolve the channel's dead-letter sink.                        → DeadLetterSinkResolved
	// 5. Set the contract entry and one egress per subscriber; delete the egresses of
	//    subscribers that left.
	// 6. Report each subscriber ready once the dispatcher serves it.    → status.subscribers
	// 7. Publish the address once the ingress serves the channel.       → DataPlaneAvailable, Addressable
	//
	// When the credentials are unusable (1) or refused by the cluster (2), the channel's entry
	// (without changing its egresses) is set all the same: it holds only the Secret's name, so
	// the data plane reads the same Secret, fails the same way (the ingress answers 503 for this
	// channel) and recovers by itself once the Secret is fixed.
	kc.Status.InitializeConditions()
	cfg, event := r.config(kc)
	if event != nil {
		return event
	}
	topic, event := r.topicName(kc)
	if event != nil {
		return event
	}
	resource := contractbuild.ChannelResource(kc, topic, cfg)
	sec, event := r.security(kc, cfg)
	if event != nil {
		r.contract.SetResource(resource)
		return event
	}
	if event, refused := r.topic(ctx, kc, topic, cfg, sec, resource.Origin()); event != nil {
		if refused {
			r.contract.SetResource(resource)
		}
		return event
	}
	if event := r.service(ctx, kc); event != nil {
		return event
	}
	deadLetter, event := r.deadLetterSink(ctx, kc)
	if event != nil {
		return event
	}
	buildErrs := r.setContract(ctx, kc, resource, deadLetter)
	view := r.observe(ctx, kc)
	subscribersPending := r.subscribers(kc, buildErrs, view)
	if !r.served(kc, view) || subscribersPending {
		return controller.NewRequeueAfter(r.pollInterval)
	}
	return nil
}

// config reads kafka-channel-config. A missing or invalid ConfigMap is the user's to fix; its
// watch requeues every channel when it changes.
func (r *Reconciler) config(kc *messagingv1beta1.KafkaChannel) (contractbuild.ChannelConfig, pkgreconciler.Event) {
	namespace, name := r.systemNamespace, contractbuild.ChannelConfigMapName
	cm, err := r.configMaps.ConfigMaps(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		kc.Status.MarkConfigFailed(ReasonConfigMapNotFound, "ConfigMap %s/%s does not exist", namespace, name)
		return contractbuild.ChannelConfig{}, pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonConfigMapNotFound,
			"ConfigMap %s/%s does not exist", namespace, name)
	} else if err != nil {
		return contractbuild.ChannelConfig{}, fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, name, err)
	}
	cfg, err := contractbuild.ParseChannelConfig(cm.Data)
	if err != nil {
		kc.Status.MarkConfigFailed(ReasonConfigInvalid, "ConfigMap %s/%s: %v", namespace, name, err)
		return contractbuild.ChannelConfig{}, pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonConfigInvalid,
			"ConfigMap %s/%s: %v", namespace, name, err)
	}
	if cfg.AuthSecretName != "" && cfg.AuthSecretNamespace == "" {
		cfg.AuthSecretNamespace = namespace
	}
	kc.Status.MarkConfigParsed()
	return cfg, nil
}

// topicName names kc's topic (see contractbuild.NameTemplates.ChannelTopic) and records it in kc's
// status annotations, where Knative's Kafka channel records it too: from then on the topic stays
// whatever the template becomes. A template that fails marks TopicReady False;
// config-kafka-features' watch requeues kc when it changes.
func (r *Reconciler) topicName(kc *messagingv1beta1.KafkaChannel) (string, pkgreconciler.Event) {
	// Without usable templates, a recorded name still works.
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	topic, err := names.ChannelTopic(kc)
	if err != nil {
		if cfgErr != nil {
			err = cfgErr
		}
		kc.Status.MarkTopicFailed(ReasonNameTemplateInvalid, "naming the topic: %v", err)
		return "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonNameTemplateInvalid, "naming the topic: %v", err)
	}
	if kc.Status.Annotations == nil {
		kc.Status.Annotations = map[string]string{}
	}
	kc.Status.Annotations[contractbuild.TopicStatusAnnotation] = topic
	return topic, nil
}

// security tracks and reads the auth Secret of kafka-channel-config. A Secret that is missing or
// unusable marks ConfigParsed False with the kafkaconn reason; the event is not retried: the
// tracker requeues kc when the Secret changes.
func (r *Reconciler) security(kc *messagingv1beta1.KafkaChannel, cfg contractbuild.ChannelConfig) (*kafkaconn.Security, pkgreconciler.Event) {
	if cfg.AuthSecretName == "" {
		return nil, nil
	}
	ref := tracker.Reference{APIVersion: "v1", Kind: "Secret", Namespace: cfg.AuthSecretNamespace, Name: cfg.AuthSecretName}
	if err := r.tracker.TrackReference(ref, kc); err != nil {
		return nil, fmt.Errorf("tracking Secret %s/%s: %w", cfg.AuthSecretNamespace, cfg.AuthSecretName, err)
	}
	sec, err := r.credentials.Secret(cfg.AuthSecretNamespace, cfg.AuthSecretName)
	if err != nil {
		reason, ok := kafkaconn.ReasonOf(err)
		if !ok {
			return nil, fmt.Errorf("reading the Kafka credentials: %w", err)
		}
		kc.Status.MarkConfigFailed(string(reason), "%v", err)
		return nil, pkgreconciler.NewEvent(corev1.EventTypeWarning, string(reason), "%v", err)
	}
	return sec, nil
}

// topic creates kc's topic with the spec's partitions, replication and retention, and brings an
// existing topic's retention.ms in line with the spec (partitions and replication are immutable).
// It returns an event for what the user must fix and an event wrapped in an error (recorded and
// retried with backoff) for what may pass. refused reports that the cluster refused the
// credentials (a kafkaconn reason): TopicReady then carries that reason.
func (r *Reconciler) topic(ctx context.Context, kc *messagingv1beta1.KafkaChannel, topic string, cfg contractbuild.ChannelConfig, sec *kafkaconn.Security, origin kafkaconn.Origin) (event pkgreconciler.Event, refused bool) {
	retention, err := kc.RetentionDuration()
	if err != nil {
		kc.Status.MarkTopicFailed(ReasonRetentionInvalid, "%v", err)
		return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonRetentionInvalid, "%v", err), false
	}
	retentionMs := strconv.FormatInt(retention.Milliseconds(), 10)
	cluster, err := r.kafka(cfg.BootstrapServers, sec)
	if err != nil {
		kc.Status.MarkTopicFailed(ReasonKafkaUnavailable, "%v", err)
		return retry(ReasonKafkaUnavailable, "connecting to Kafka %v: %v", cfg.BootstrapServers, err), false
	}
	spec := kafka.TopicSpec{
		Name:              topic,
		Partitions:        kc.Spec.NumPartitions,
		ReplicationFactor: kc.Spec.ReplicationFactor,
		Config:            map[string]*string{retentionKey: &retentionMs},
	}
	if err := cluster.EnsureTopic(ctx, spec); err != nil {
		if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
			// Retried: the cluster's users or CA may change without any object we watch changing.
			kc.Status.MarkTopicFailed(string(reason), "%s", msg)
			return retry(string(reason), "%s", msg), true
		}
		switch {
		case kafka.IsPartitionsMismatch(err):
			kc.Status.MarkTopicFailed(ReasonTopicPartitions, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicPartitions, "%v", err), false
		case kafka.IsInvalidTopicSpec(err), kafka.IsUnauthorized(err):
			kc.Status.MarkTopicFailed(ReasonTopicCreateFailed, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicCreateFailed, "%v", err), false
		default:
			kc.Status.MarkTopicFailed(ReasonTopicCreateFailed, "%v", err)
			return retry(ReasonTopicCreateFailed, "%v", err), false
		}
	}
	changed, err := cluster.UpdateTopicConfig(ctx, topic, map[string]string{retentionKey: retentionMs})
	if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
		kc.Status.MarkTopicFailed(string(reason), "%s", msg)
		return retry(string(reason), "%s", msg), true
	} else if err != nil {
		kc.Status.MarkTopicFailed(ReasonTopicConfigFailed, "%v", err)
		return retry(ReasonTopicConfigFailed, "%v", err), false
	}
	if changed {
		controller.GetEventRecorder(ctx).Eventf(kc, corev1.EventTypeNormal, ReasonTopicConfigUpdated,
			"set %s=%s on topic %q", retentionKey, retentionMs, topic)
	}
	kc.Status.MarkTopicReady(topic)
	return nil, false
}

func (r *Reconciler) deadLetterSink(ctx context.Context, kc *messagingv1beta1.KafkaChannel) (*apis.URL, pkgreconciler.Event) {
	if kc.Spec.Delivery == nil || kc.Spec.Delivery.DeadLetterSink == nil {
		kc.Status.MarkDeadLetterSinkNotConfigured()
		return nil, nil
	}
	uri, err := r.resolver.URIFromDestinationV1(ctx, *kc.Spec.Delivery.DeadLetterSink, kc)
	if err != nil {
		kc.Status.MarkDeadLetterSinkFailed(ReasonDeadLetterSinkFailed, "%v", err)
		return nil, retry(ReasonDeadLetterSinkFailed, "resolving the dead-letter sink: %v", err)
	}
	kc.Status.MarkDeadLetterSinkResolved(uri)
	return uri, nil
}

// FinalizeKind removes kc's contract entry, its subscriptions' consumer groups and its topic. The
// Service goes with kc: kc owns it.
func (r *Reconciler) FinalizeKind(ctx context.Context, kc *messagingv1beta1.KafkaChannel) pkgreconciler.Event {
	// 1. Remove the channel and its egresses from the contract.
	// 2. Find the Kafka cluster; without a usable config there is nothing we can delete.
	// 3. Delete the subscriptions' consumer groups, once the data plane left them.
	// 4. Delete the topic: the recorded one, else the template's.
	r.contract.DeleteResource(string(kc.UID))
	left := r.egresses.forget(string(kc.UID))
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	topic, nameErr := names.ChannelTopic(kc)
	if nameErr != nil && cfgErr != nil {
		nameErr = cfgErr
	}
	cluster, ok, err := r.cluster(kc)
	if err != nil {
		return err
	}
	if !ok {
		logging.FromContext(ctx).Desugar().Warn("channel config or its Kafka Secret is gone or invalid: leaving its topic and consumer groups in Kafka",
			zap.String("resource", string(kc.UID)), zap.String("topic", topic))
		controller.GetEventRecorder(ctx).Eventf(kc, corev1.EventTypeWarning, ReasonTopicNotDeleted,
			"the channel config or its Kafka Secret is gone or invalid: topic %q and its consumer groups are left in Kafka", topic)
		return nil
	}
	var groups []string
	uids := knownSubscribers(kc, left)
	for _, uid := range uids {
		groups = append(groups, contractbuild.SubscriptionConsumerGroup(kc, uid))
	}
	if len(groups) > 0 {
		// The dispatcher commits without joining the groups: wait until it stopped the
		// subscriptions, or its last commits would bring the groups back.
		status, err := r.dataPlane.Status(ctx)
		if v := serving.Released(status, err, uids...); !v.Served {
			logging.FromContext(ctx).Desugar().Info("waiting for the data plane to leave the subscriptions' consumer groups", zap.String("reason", v.Reason), zap.String("message", v.Message))
			return controller.NewRequeueAfter(r.pollInterval)
		}
		switch err := cluster.DeleteConsumerGroups(ctx, groups...); {
		case err == nil:
		case kafka.IsGroupNotEmpty(err):
			// The data plane has not applied the contract without this channel yet.
			return controller.NewRequeueAfter(r.pollInterval)
		default:
			return fmt.Errorf("deleting the consumer groups of the channel's subscriptions: %w", err)
		}
	}
	if nameErr != nil {
		controller.GetEventRecorder(ctx).Eventf(kc, corev1.EventTypeWarning, ReasonTopicNotDeleted,
			"the channel's topic has no recorded name and its template fails (%v): no topic deleted", nameErr)
		return nil
	}
	if err := cluster.DeleteTopic(ctx, topic); err != nil {
		return fmt.Errorf("deleting topic %q: %w", topic, err)
	}
	return nil
}

// cluster returns the Kafka cluster of kafka-channel-config, reached with the credentials of its
// auth Secret; false when the ConfigMap or the Secret is gone or invalid, so there is no cluster
// to talk to.
func (r *Reconciler) cluster(kc *messagingv1beta1.KafkaChannel) (Kafka, bool, error) {
	namespace, name := r.systemNamespace, contractbuild.ChannelConfigMapName
	cm, err := r.configMaps.ConfigMaps(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, name, err)
	}
	cfg, err := contractbuild.ParseChannelConfig(cm.Data)
	if err != nil {
		return nil, false, nil
	}
	secretNamespace := cfg.AuthSecretNamespace
	if secretNamespace == "" {
		secretNamespace = namespace
	}
	sec, err := r.credentials.Secret(secretNamespace, cfg.AuthSecretName)
	if _, unusable := kafkaconn.ReasonOf(err); unusable {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("reading the Kafka credentials: %w", err)
	}
	cluster, err := r.kafka(cfg.BootstrapServers, sec)
	if err != nil {
		return nil, false, fmt.Errorf("connecting to Kafka %v for channel %s/%s: %w", cfg.BootstrapServers, kc.Namespace, kc.Name, err)
	}
	return cluster, true, nil
}

// knownSubscribers are the UIDs of kc's subscribers in its spec and status and of extra, sorted
// and without duplicates.
func knownSubscribers(kc *messagingv1beta1.KafkaChannel, extra []string) []string {
	uids := slices.Clone(extra)
	for _, s := range kc.Spec.Subscribers {
		uids = append(uids, string(s.UID))
	}
	for _, s := range kc.Status.Subscribers {
		uids = append(uids, string(s.UID))
	}
	uids = slices.DeleteFunc(uids, func(uid string) bool { return uid == "" })
	slices.Sort(uids)
	return slices.Compact(uids)
}

// retry is an event that is recorded and also retried with backoff.
func retry(reason, format string, args ...any) error {
	return fmt.Errorf("%w", pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, format, args...))
}
