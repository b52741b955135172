// Package broker reconciles Kafka-class Knative Brokers: it reads the broker config ConfigMap,
// makes sure the broker's topic exists, publishes the broker's entry in the routing contract and
// marks the Broker Ready — with its address — once the data plane serves that entry. Reconciler
// holds the logic; NewController wires it to informers and to the collaborators in Deps.
package broker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventinglisters "knative.dev/eventing/pkg/client/listers/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/tracker"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/control-plane/pkg/reconciler/internal/nametemplates"
	"knkafka.dev/control-plane/pkg/serving"
	"knkafka.dev/kafkaconn"
)

// Kafka is the part of a Kafka cluster the Broker reconciler uses.
type Kafka interface {
	EnsureTopic(ctx context.Context, spec kafka.TopicSpec) error
	TopicExists(ctx context.Context, name string) (bool, error)
	DeleteTopic(ctx context.Context, name string) error
	DeleteConsumerGroups(ctx context.Context, groups ...string) error
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
	// SetResource sets a resource's entry (r.Egresses is ignored).
	SetResource(r contract.Resource)
	// DeleteResource removes a resource with its egresses.
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
	ReasonConfigMapNotFound      = "ConfigMapNotFound"
	ReasonConfigInvalid          = "ConfigInvalid"
	ReasonKafkaUnavailable       = "KafkaUnavailable"
	ReasonTopicCreateFailed      = "TopicCreateFailed"
	ReasonTopicNotFound          = "TopicNotFound"
	ReasonTopicPartitions        = "TopicPartitionsMismatch"
	ReasonDeadLetterSinkFailed   = "Unable to get the dead letter sink's URI" // as Knative's MT broker
	ReasonContractNotPublished   = serving.ReasonContractNotPublished
	ReasonDataPlaneUnreachable   = serving.ReasonDataPlaneUnreachable
	ReasonContractNotApplied     = serving.ReasonContractNotApplied
	ReasonIngressNotReady        = serving.ReasonIngressNotReady
	ReasonTopicNotDeleted        = "TopicNotDeleted"
	ReasonConsumerGroupsNotEmpty = "ConsumerGroupsNotEmpty"
	ReasonNameTemplateInvalid    = nametemplates.ReasonInvalid
)

// Reconciler reconciles Kafka-class Brokers.
type Reconciler struct {
	configMaps  corelisters.ConfigMapLister
	triggers    eventinglisters.TriggerLister
	credentials kafka.Credentials
	kafka       KafkaFunc
	contract    ContractStore
	dataPlane   DataPlane
	resolver    *resolver.URIResolver
	tracker     tracker.Interface
	ingressHost string
	// systemNamespace holds config-kafka-features, whose template names new topics.
	systemNamespace string
	// pollInterval is how soon a Broker is looked at again while the data plane catches up.
	pollInterval time.Duration
}

// ReconcileKind makes b's topic and contract entry match b, and reports b Ready once served.
func (r *Reconciler) ReconcileKind(ctx context.Context, b *eventingv1.Broker) pkgreconciler.Event {
	// 1. Read the broker config ConfigMap.                     → ConfigParsed
	// 2. Name the topic: external, recorded, else from the template; record it. → TopicReady
	// 3. Read the Kafka credentials of auth.secret.ref.name.    → ConfigParsed
	// 4. Create the topic, or check that the external one exists. → TopicReady
	// 5. Resolve the dead-letter sink (Triggers inherit it).   → DeadLetterSinkResolved
	// 6. Set the broker's contract entry.
	// 7. Wait until the data plane serves it, then publish the address. → DataPlaneAvailable, Addressable
	//
	// When the credentials are unusable (3) or refused by the cluster (4), the entry is set all
	// the same: it holds only the Secret's name, so the data plane reads the same Secret, fails
	// the same way (the ingress answers 503 for this broker) and recovers by itself once the
	// Secret is fixed.
	b.Status.InitializeConditions()
	cfg, cfgNamespace, event := r.config(b)
	if event != nil {
		return event
	}
	topic, event := r.topicName(b)
	if event != nil {
		return event
	}
	resource := contractbuild.BrokerResource(b, topic, cfg, cfgNamespace)
	sec, event := r.security(b, cfg, cfgNamespace)
	if event != nil {
		r.contract.SetResource(resource)
		return event
	}
	if event, refused := r.topic(ctx, b, topic, cfg, sec, resource.Origin()); event != nil {
		if refused {
			r.contract.SetResource(resource)
		}
		return event
	}
	if event := r.deadLetterSink(ctx, b); event != nil {
		return event
	}
	r.contract.SetResource(resource)
	return r.served(ctx, b)
}

// topicName names b's topic (see contractbuild.NameTemplates.BrokerTopic) and records a name it
// owns in b's status annotations, where Knative's Kafka broker records it too: from then on the
// name stays whatever the template becomes. An external topic is not recorded, so dropping the
// annotation later never makes us own — and delete — someone else's topic. A template that fails
// marks TopicReady False; config-kafka-features' watch requeues b when it changes.
func (r *Reconciler) topicName(b *eventingv1.Broker) (string, pkgreconciler.Event) {
	// Without usable templates, external and recorded names still work.
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	topic, err := names.BrokerTopic(b)
	if err != nil {
		if cfgErr != nil {
			err = cfgErr
		}
		conditions(b).MarkFalse(ConditionTopicReady, ReasonNameTemplateInvalid, "naming the topic: %v", err)
		return "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonNameTemplateInvalid, "naming the topic: %v", err)
	}
	if _, external := contractbuild.ExternalTopic(b); !external {
		if b.Status.Annotations == nil {
			b.Status.Annotations = map[string]string{}
		}
		b.Status.Annotations[contractbuild.TopicStatusAnnotation] = topic
	}
	return topic, nil
}

// security tracks and reads the broker's auth Secret (in the ConfigMap's namespace). A Secret
// that is missing or unusable marks ConfigParsed False with the kafkaconn reason; the event is
// not retried: the tracker requeues b when the Secret changes.
func (r *Reconciler) security(b *eventingv1.Broker, cfg contractbuild.BrokerConfig, namespace string) (*kafkaconn.Security, pkgreconciler.Event) {
	if cfg.AuthSecretName == "" {
		return nil, nil
	}
	ref := tracker.Reference{APIVersion: "v1", Kind: "Secret", Namespace: namespace, Name: cfg.AuthSecretName}
	if err := r.tracker.TrackReference(ref, b); err != nil {
		return nil, fmt.Errorf("tracking Secret %s/%s: %w", namespace, cfg.AuthSecretName, err)
	}
	sec, err := r.credentials.Secret(namespace, cfg.AuthSecretName)
	if err != nil {
		reason, ok := kafkaconn.ReasonOf(err)
		if !ok {
			return nil, fmt.Errorf("reading the Kafka credentials: %w", err)
		}
		conditions(b).MarkFalse(ConditionConfigParsed, string(reason), "%v", err)
		return nil, pkgreconciler.NewEvent(corev1.EventTypeWarning, string(reason), "%v", err)
	}
	return sec, nil
}

func (r *Reconciler) config(b *eventingv1.Broker) (contractbuild.BrokerConfig, string, pkgreconciler.Event) {
	namespace, name, err := contractbuild.BrokerConfigMapRef(b)
	if err != nil {
		conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigInvalid, "%v", err)
		return contractbuild.BrokerConfig{}, "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonConfigInvalid, "%v", err)
	}
	ref := tracker.Reference{APIVersion: "v1", Kind: "ConfigMap", Namespace: namespace, Name: name}
	if err := r.tracker.TrackReference(ref, b); err != nil {
		return contractbuild.BrokerConfig{}, "", fmt.Errorf("tracking ConfigMap %s/%s: %w", namespace, name, err)
	}
	cm, err := r.configMaps.ConfigMaps(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigMapNotFound, "ConfigMap %s/%s does not exist", namespace, name)
		return contractbuild.BrokerConfig{}, "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonConfigMapNotFound,
			"ConfigMap %s/%s does not exist", namespace, name)
	} else if err != nil {
		return contractbuild.BrokerConfig{}, "", fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, name, err)
	}
	cfg, err := contractbuild.ParseBrokerConfig(cm.Data)
	if err != nil {
		conditions(b).MarkFalse(ConditionConfigParsed, ReasonConfigInvalid, "ConfigMap %s/%s: %v", namespace, name, err)
		return contractbuild.BrokerConfig{}, "", pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonConfigInvalid,
			"ConfigMap %s/%s: %v", namespace, name, err)
	}
	conditions(b).MarkTrue(ConditionConfigParsed)
	return cfg, namespace, nil
}

// topic returns an event for what the user must fix and an event wrapped in an error (logged,
// recorded and retried with backoff) for what may pass. refused reports that the cluster refused
// the credentials (a kafkaconn reason): TopicReady then carries that reason.
func (r *Reconciler) topic(ctx context.Context, b *eventingv1.Broker, topic string, cfg contractbuild.BrokerConfig, sec *kafkaconn.Security, origin kafkaconn.Origin) (event pkgreconciler.Event, refused bool) {
	cluster, err := r.kafka(cfg.BootstrapServers, sec)
	if err != nil {
		conditions(b).MarkFalse(ConditionTopicReady, ReasonKafkaUnavailable, "%v", err)
		return retry(ReasonKafkaUnavailable, "connecting to Kafka %v: %v", cfg.BootstrapServers, err), false
	}
	if _, external := contractbuild.ExternalTopic(b); external {
		exists, err := cluster.TopicExists(ctx, topic)
		if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
			conditions(b).MarkFalse(ConditionTopicReady, string(reason), "checking topic %q: %s", topic, msg)
			return retry(string(reason), "checking topic %q: %s", topic, msg), true
		}
		switch {
		case err != nil:
			conditions(b).MarkFalse(ConditionTopicReady, ReasonKafkaUnavailable, "checking topic %q: %v", topic, err)
			return retry(ReasonKafkaUnavailable, "checking topic %q: %v", topic, err), false
		case !exists:
			conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicNotFound, "external topic %q does not exist", topic)
			return retry(ReasonTopicNotFound, "external topic %q does not exist", topic), false
		}
		conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicExternal", "using existing topic %q", topic)
		return nil, false
	}
	spec := kafka.TopicSpec{Name: topic, Partitions: cfg.TopicPartitions, ReplicationFactor: cfg.TopicReplicationFactor}
	if len(cfg.TopicConfig) > 0 {
		spec.Config = make(map[string]*string, len(cfg.TopicConfig))
		for k, v := range cfg.TopicConfig {
			spec.Config[k] = &v
		}
	}
	if err := cluster.EnsureTopic(ctx, spec); err != nil {
		if reason, msg, ok := kafkaconn.Refusal(origin, err); ok {
			// Retried: the cluster's users or CA may change without any object we watch changing.
			conditions(b).MarkFalse(ConditionTopicReady, string(reason), "%s", msg)
			return retry(string(reason), "%s", msg), true
		}
		switch {
		case kafka.IsPartitionsMismatch(err):
			conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicPartitions, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicPartitions, "%v", err), false
		case kafka.IsInvalidTopicSpec(err), kafka.IsUnauthorized(err):
			conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicCreateFailed, "%v", err)
			return pkgreconciler.NewEvent(corev1.EventTypeWarning, ReasonTopicCreateFailed, "%v", err), false
		default:
			conditions(b).MarkFalse(ConditionTopicReady, ReasonTopicCreateFailed, "%v", err)
			return retry(ReasonTopicCreateFailed, "%v", err), false
		}
	}
	conditions(b).MarkTrueWithReason(ConditionTopicReady, "TopicCreated", "topic %q", topic)
	return nil, false
}

func (r *Reconciler) deadLetterSink(ctx context.Context, b *eventingv1.Broker) pkgreconciler.Event {
	if b.Spec.Delivery == nil || b.Spec.Delivery.DeadLetterSink == nil {
		b.Status.MarkDeadLetterSinkNotConfigured()
		return nil
	}
	uri, err := r.resolver.URIFromDestinationV1(ctx, *b.Spec.Delivery.DeadLetterSink, b)
	if err != nil {
		b.Status.MarkDeadLetterSinkResolvedFailed(ReasonDeadLetterSinkFailed, "%v", err)
		return retry("DeadLetterSinkResolveFailed", "resolving the dead-letter sink: %v", err)
	}
	b.Status.MarkDeadLetterSinkResolvedSucceeded(eventingduckv1.DeliveryStatus{DeadLetterSinkURI: uri})
	return nil
}

// served marks b available and addressable once every ingress instance applied the contract
// generation holding b's current entry and reports b's ingress ready; until then it requeues b.
func (r *Reconciler) served(ctx context.Context, b *eventingv1.Broker) pkgreconciler.Event {
	uid := string(b.UID)
	status, err := r.dataPlane.Status(ctx)
	if err != nil {
		logging.FromContext(ctx).Desugar().Info("data plane status unavailable", zap.String("resource", uid), zap.Error(err))
	}
	if v := serving.Check(r.contract, status, err, serving.Ingress, uid, "broker"); !v.Served {
		conditions(b).MarkUnknown(ConditionDataPlaneAvailable, v.Reason, "%s", v.Message)
		return controller.NewRequeueAfter(r.pollInterval)
	}
	conditions(b).MarkTrue(ConditionDataPlaneAvailable)
	url := contractbuild.BrokerAddress(b, r.ingressHost)
	b.Status.SetAddress(&duckv1.Addressable{URL: url})
	b.Status.Addresses = []duckv1.Addressable{*b.Status.Address}
	return nil
}

// FinalizeKind removes b's contract entry, the consumer groups of its Triggers and — unless it
// is external — its topic.
func (r *Reconciler) FinalizeKind(ctx context.Context, b *eventingv1.Broker) pkgreconciler.Event {
	// 1. Remove the broker and its egresses from the contract.
	// 2. Name the topic and the groups: recorded names first, so a changed template deletes
	//    what was created, not what it would name now.
	// 3. Find the Kafka cluster; without a usable config there is nothing we can delete.
	// 4. Delete its Triggers' consumer groups, once the data plane left them.
	// 5. Delete its topic unless external.
	r.contract.DeleteResource(string(b.UID))
	log := logging.FromContext(ctx).Desugar().With(zap.String("resource", string(b.UID)))
	names, cfgErr := nametemplates.Get(r.configMaps, r.systemNamespace)
	if cfgErr != nil {
		log.Warn("config-kafka-features is invalid: only recorded names can be deleted", zap.Error(cfgErr))
	}
	topic, nameErr := names.BrokerTopic(b)
	cluster, ok, err := ClusterFor(r.configMaps, r.credentials, r.kafka, b)
	if err != nil {
		return err
	}
	if !ok {
		log.Warn("broker config or its Kafka Secret is gone or invalid: leaving its topic and consumer groups in Kafka",
			zap.String("topic", topic))
		controller.GetEventRecorder(ctx).Eventf(b, corev1.EventTypeWarning, ReasonTopicNotDeleted,
			"the broker config or its Kafka Secret is gone or invalid: topic %q and its consumer groups are left in Kafka", topic)
		return nil
	}
	if event := r.deleteTriggerGroups(ctx, b, cluster, names); event != nil {
		return event
	}
	if _, external := contractbuild.ExternalTopic(b); external {
		return nil
	}
	if nameErr != nil {
		controller.GetEventRecorder(ctx).Eventf(b, corev1.EventTypeWarning, ReasonTopicNotDeleted,
			"the broker's topic has no recorded name and its template fails (%v): no topic deleted", nameErr)
		return nil
	}
	if err := cluster.DeleteTopic(ctx, topic); err != nil {
		return fmt.Errorf("deleting topic %q: %w", topic, err)
	}
	return nil
}

// ClusterFor returns the Kafka cluster of b's config ConfigMap, reached with the credentials of
// its auth Secret; false when the ConfigMap or the Secret is gone or invalid, so there is no
// cluster to talk to.
func ClusterFor(configMaps corelisters.ConfigMapLister, credentials kafka.Credentials, kafkaFor KafkaFunc, b *eventingv1.Broker) (Kafka, bool, error) {
	namespace, name, err := contractbuild.BrokerConfigMapRef(b)
	if err != nil {
		return nil, false, nil
	}
	cm, err := configMaps.ConfigMaps(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, name, err)
	}
	cfg, err := contractbuild.ParseBrokerConfig(cm.Data)
	if err != nil {
		return nil, false, nil
	}
	sec, err := credentials.Secret(namespace, cfg.AuthSecretName)
	if _, unusable := kafkaconn.ReasonOf(err); unusable {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("reading the Kafka credentials: %w", err)
	}
	cluster, err := kafkaFor(cfg.BootstrapServers, sec)
	if err != nil {
		return nil, false, fmt.Errorf("connecting to Kafka %v: %w", cfg.BootstrapServers, err)
	}
	return cluster, true, nil
}

func (r *Reconciler) deleteTriggerGroups(ctx context.Context, b *eventingv1.Broker, cluster Kafka, names contractbuild.NameTemplates) pkgreconciler.Event {
	triggers, err := r.triggers.Triggers(b.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing triggers: %w", err)
	}
	var groups, uids []string
	for _, t := range triggers {
		if t.Spec.Broker != b.Name {
			continue
		}
		uids = append(uids, string(t.UID))
		group, err := names.TriggerConsumerGroup(t)
		if err != nil {
			logging.FromContext(ctx).Desugar().Warn("leaving the consumer group of a trigger that has no recorded group and whose template fails",
				zap.String("egress", string(t.UID)), zap.Error(err))
			continue
		}
		groups = append(groups, group)
	}
	slices.Sort(groups)
	// The dispatcher commits without joining the groups: wait until it stopped the Triggers, or
	// its last commits would bring the groups back.
	status, err := r.dataPlane.Status(ctx)
	if v := serving.Released(status, err, uids...); !v.Served {
		logging.FromContext(ctx).Desugar().Info("waiting for the data plane to leave the triggers' consumer groups", zap.String("reason", v.Reason), zap.String("message", v.Message))
		return controller.NewRequeueAfter(r.pollInterval)
	}
	err = cluster.DeleteConsumerGroups(ctx, groups...)
	switch {
	case err == nil:
		return nil
	case kafka.IsGroupNotEmpty(err):
		// The data plane has not applied the contract without this broker yet.
		return controller.NewRequeueAfter(r.pollInterval)
	default:
		return fmt.Errorf("deleting the consumer groups of the broker's triggers: %w", err)
	}
}

// retry is an event that is recorded and also retried with backoff.
func retry(reason, format string, args ...any) error {
	return fmt.Errorf("%w", pkgreconciler.NewEvent(corev1.EventTypeWarning, reason, format, args...))
}
