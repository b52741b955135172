package runner

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/local/resources"
)

// Local defaults for a Broker whose config ConfigMap is not in the folder: one partition and one
// replica suit a laptop (replication is capped to the cluster's size anyway).
const (
	defaultTopicPartitions  = "1"
	defaultTopicReplication = "1"
)

// Knative's ConfigMap of broker defaults, whose delivery a Broker without one gets.
const (
	brokerDefaultsNamespace = "knative-eventing"
	brokerDefaultsName      = "config-br-defaults"
)

// Reasons of the Ready condition when the runner itself finds a problem (the data plane's own
// reasons, such as JoiningGroup, pass through).
const (
	ReasonBrokerClass        = "BrokerClassNotKafka"
	ReasonConfigInvalid      = "ConfigInvalid"
	ReasonNoKafka            = "NoBootstrapServers"
	ReasonBrokerNotFound     = "BrokerDoesNotExist"
	ReasonBrokerNotReady     = "BrokerNotReady"
	ReasonRefNotSupported    = "ReferenceNotSupported"
	ReasonInvalid            = "Invalid"
	ReasonChannelUnsupported = "ChannelKindNotSupported"
	ReasonChannelNotFound    = "ChannelDoesNotExist"
	ReasonChannelNotReady    = "ChannelNotReady"
	ReasonTopicNotReady      = "TopicNotReady"
	ReasonRefNotFound        = "ReferenceNotFound"
	ReasonRefNotReady        = "ReferenceNotReady"
	ReasonNameTemplate       = "NameTemplateInvalid"
)

// Options shape Build.
type Options struct {
	// IngressAddr is the host:port of the ingress, used in addresses.
	IngressAddr string
	// BootstrapServers, when set, replace the bootstrap servers of every config.
	BootstrapServers []string
	// DefaultServers serve the Brokers and KafkaChannels whose config names none (the embedded
	// Kafka); when empty such objects are not Ready and Plan.NeedsDefaultServers is set.
	DefaultServers []string
}

// Plan is what a Set means for the data plane and Kafka.
type Plan struct {
	// Contract holds every Broker and KafkaChannel without a problem, with their egresses; its
	// Generation is left to the caller.
	Contract contract.Contract
	// Topics are the topics to create, one per Broker or KafkaChannel in Contract, external
	// topics excluded.
	Topics []Topic
	// Objects are every Broker, Trigger, KafkaChannel, Subscription, KafkaSource and KafkaSink
	// of the Set, in that order, each by namespace and name.
	Objects []Object
	// NeedsDefaultServers says an object's config names no bootstrap servers and
	// Options.DefaultServers was empty.
	NeedsDefaultServers bool
}

// Topic is a topic a Broker or KafkaChannel needs.
type Topic struct {
	// Owner is the UID of the Broker or KafkaChannel.
	Owner   string
	Servers []string
	Spec    kafka.TopicSpec
}

// Object is one object of the Set as the runner sees it.
type Object struct {
	Kind, Namespace, Name, UID string
	// Address is where a Broker or KafkaChannel accepts events.
	Address string
	// Parent is the UID of a Trigger's Broker or a Subscription's KafkaChannel.
	Parent string
	// Problem, when set, is why the object cannot be served; it is then not in the contract.
	Problem *Problem
}

// Problem says why an object cannot be served.
type Problem struct {
	Reason, Message string
}

func problem(reason, format string, args ...any) *Problem {
	return &Problem{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Build turns set into a plan with the contract builders the controllers use. It is pure.
func Build(set *resources.Set, opts Options) *Plan {
	b := &builder{set: set, opts: opts, plan: &Plan{}, resources: map[string]*contract.Resource{}, addressables: map[addressableKey]addressable{}}
	b.names, b.namesErr = nameTemplates(set)
	// Addressables first, so any destination's ref can name them.
	brokers := b.brokers()
	channels := b.channels()
	b.sinks()
	b.triggers(brokers)
	b.subscriptions(channels)
	b.sources()

	for _, uid := range slices.Sorted(maps.Keys(b.resources)) {
		r := b.resources[uid]
		slices.SortFunc(r.Egresses, func(x, y contract.Egress) int { return cmp.Compare(x.UID, y.UID) })
		b.plan.Contract.Resources = append(b.plan.Contract.Resources, *r)
	}
	kindOrder := map[string]int{contract.KindBroker: 0, contract.KindTrigger: 1, contract.KindKafkaChannel: 2, contract.KindSubscription: 3, contract.KindKafkaSource: 4, contract.KindKafkaSink: 5}
	slices.SortStableFunc(b.plan.Objects, func(x, y Object) int {
		return cmp.Or(cmp.Compare(kindOrder[x.Kind], kindOrder[y.Kind]), cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
	b.plan.Contract.SchemaVersion = contract.SchemaVersion
	if b.plan.Contract.Resources == nil {
		b.plan.Contract.Resources = []contract.Resource{}
	}
	return b.plan
}

type builder struct {
	set  *resources.Set
	opts Options
	plan *Plan
	// resources are the contract resources by UID.
	resources map[string]*contract.Resource
	// addressables are the Brokers and KafkaChannels of the folder that a destination's ref may
	// name, by kind, namespace and name.
	addressables map[addressableKey]addressable
	// names name topics and consumer groups, from config-kafka-features when the folder has it;
	// namesErr says why that ConfigMap is invalid (names then holds no templates, so only names
	// recorded in an object's status work).
	names    contractbuild.NameTemplates
	namesErr error
}

// nameTemplates reads knative-eventing/config-kafka-features from the folder, the defaults
// without it.
func nameTemplates(set *resources.Set) (contractbuild.NameTemplates, error) {
	cm, found := set.ConfigMap(contractbuild.FeaturesConfigMapNS, contractbuild.FeaturesConfigMapName)
	if !found {
		return contractbuild.DefaultNameTemplates(), nil
	}
	names, err := contractbuild.ParseNameTemplates(cm.Data)
	if err != nil {
		return contractbuild.NameTemplates{}, fmt.Errorf("ConfigMap %s/%s: %w", contractbuild.FeaturesConfigMapNS, contractbuild.FeaturesConfigMapName, err)
	}
	return names, nil
}

// nameProblem is the Problem of a name that cannot be made: the ConfigMap's error if it has one.
func (b *builder) nameProblem(what string, err error) *Problem {
	if b.namesErr != nil {
		err = b.namesErr
	}
	return problem(ReasonNameTemplate, "naming the %s: %v", what, err)
}

type addressableKey struct{ kind, namespace, name string }

// addressable is a Broker or KafkaChannel a ref resolves to: its address, or why it has none.
type addressable struct {
	address *apis.URL
	problem *Problem
}

// parent is a Broker or KafkaChannel as its Triggers or Subscriptions see it.
type parent struct {
	uid     string
	problem *Problem
	// broker is the Broker, with the defaults Knative's webhook would have written (Brokers only).
	broker *eventingv1.Broker
}

func (b *builder) add(o Object) { b.plan.Objects = append(b.plan.Objects, o) }

// configData returns a copy of the ConfigMap's data (nil data when it is not in the folder) with
// the bootstrap servers the options give: the override, else the config's, else the defaults.
func (b *builder) configData(namespace, name string) (map[string]string, bool, *Problem) {
	cm, found := b.set.ConfigMap(namespace, name)
	data := map[string]string{}
	if found {
		maps.Copy(data, cm.Data)
	}
	switch {
	case len(b.opts.BootstrapServers) > 0:
		data[contractbuild.BootstrapServersKey] = strings.Join(b.opts.BootstrapServers, ",")
	case strings.TrimSpace(data[contractbuild.BootstrapServersKey]) != "":
	case len(b.opts.DefaultServers) > 0:
		data[contractbuild.BootstrapServersKey] = strings.Join(b.opts.DefaultServers, ",")
	default:
		b.plan.NeedsDefaultServers = true
		return nil, found, problem(ReasonNoKafka, "no bootstrap servers: neither --bootstrap-servers nor ConfigMap %s/%s names any", namespace, name)
	}
	return data, found, nil
}

func (b *builder) brokers() map[string]parent {
	out := map[string]parent{}
	for _, br := range b.set.Brokers {
		o := Object{Kind: contract.KindBroker, Namespace: br.Namespace, Name: br.Name, UID: string(br.UID)}
		br, p := b.withDeliveryDefaults(br)
		var res contract.Resource
		var topic *Topic
		if p == nil {
			res, topic, p = b.broker(br)
		}
		if p == nil {
			o.Address = contractbuild.BrokerAddress(br, b.opts.IngressAddr).String()
			b.resources[res.UID] = &res
			if topic != nil {
				b.plan.Topics = append(b.plan.Topics, *topic)
			}
		}
		o.Problem = p
		out[br.Namespace+"/"+br.Name] = parent{uid: o.UID, problem: p, broker: br}
		b.addressable(contract.KindBroker, br.Namespace, br.Name, o.Address, p)
		b.add(o)
	}
	return out
}

// withDeliveryDefaults returns br with the delivery Knative's config-br-defaults gives its class
// and namespace (the ConfigMap knative-eventing/config-br-defaults of the folder, read by Knative's
// own parser) when br has none: on a cluster Knative's webhook writes it into the Broker, and its
// Triggers inherit it field by field.
func (b *builder) withDeliveryDefaults(br *eventingv1.Broker) (*eventingv1.Broker, *Problem) {
	cm, found := b.set.ConfigMap(brokerDefaultsNamespace, brokerDefaultsName)
	if br.Spec.Delivery != nil || !found {
		return br, nil
	}
	defaults, err := eventingconfig.NewDefaultsConfigFromConfigMap(cm)
	if err != nil {
		return br, problem(ReasonConfigInvalid, "ConfigMap %s/%s: %v", brokerDefaultsNamespace, brokerDefaultsName, err)
	}
	class := br.Annotations[eventingv1.BrokerClassAnnotationKey]
	bc, err := defaults.GetBrokerConfig(br.Namespace, &class)
	if err != nil || bc == nil || bc.Delivery == nil {
		return br, nil // no default delivery configured for this broker
	}
	br = br.DeepCopy()
	br.Spec.Delivery = bc.Delivery.DeepCopy()
	return br, nil
}

func (b *builder) broker(br *eventingv1.Broker) (contract.Resource, *Topic, *Problem) {
	if class := br.Annotations[eventingv1.BrokerClassAnnotationKey]; class != eventing.BrokerClass {
		return contract.Resource{}, nil, problem(ReasonBrokerClass, "broker class %q is not served here; use %q", class, eventing.BrokerClass)
	}
	ns, name, err := contractbuild.BrokerConfigMapRef(br)
	if err != nil {
		return contract.Resource{}, nil, problem(ReasonConfigInvalid, "%v", err)
	}
	data, found, p := b.configData(ns, name)
	if p != nil {
		return contract.Resource{}, nil, p
	}
	if !found {
		data[contractbuild.TopicPartitionsKey] = defaultTopicPartitions
		data[contractbuild.TopicReplicationFactorKey] = defaultTopicReplication
	}
	cfg, err := contractbuild.ParseBrokerConfig(data)
	if err != nil {
		return contract.Resource{}, nil, problem(ReasonConfigInvalid, "ConfigMap %s/%s: %v", ns, name, err)
	}
	topicName, err := b.names.BrokerTopic(br)
	if err != nil {
		return contract.Resource{}, nil, b.nameProblem("topic", err)
	}
	res := contractbuild.BrokerResource(br, topicName, cfg, ns)
	if _, external := contractbuild.ExternalTopic(br); external {
		return res, nil, nil
	}
	topic := &Topic{Owner: res.UID, Servers: res.BootstrapServers, Spec: kafka.TopicSpec{
		Name: res.Topic, Partitions: cfg.TopicPartitions, ReplicationFactor: cfg.TopicReplicationFactor,
	}}
	for k, v := range cfg.TopicConfig {
		if topic.Spec.Config == nil {
			topic.Spec.Config = map[string]*string{}
		}
		topic.Spec.Config[k] = &v
	}
	return res, topic, nil
}

func (b *builder) triggers(brokers map[string]parent) {
	for _, t := range b.set.Triggers {
		o := Object{Kind: contract.KindTrigger, Namespace: t.Namespace, Name: t.Name, UID: string(t.UID)}
		key := t.Namespace + "/" + t.Spec.Broker
		par, ok := brokers[key]
		o.Parent = par.uid
		switch {
		case !ok:
			o.Problem = problem(ReasonBrokerNotFound, "broker %s is not in the resources folder", key)
		case par.problem != nil:
			o.Problem = problem(ReasonBrokerNotReady, "broker %s: %s", key, par.problem.Message)
		default:
			eg, p := b.triggerEgress(t, par.broker)
			if o.Problem = p; p == nil {
				res := b.resources[par.uid]
				res.Egresses = append(res.Egresses, eg)
			}
		}
		b.add(o)
	}
}

func (b *builder) triggerEgress(t *eventingv1.Trigger, br *eventingv1.Broker) (contract.Egress, *Problem) {
	subscriber, p := b.resolve(&t.Spec.Subscriber, t.Namespace, "spec.subscriber")
	if p != nil {
		return contract.Egress{}, p
	}
	// The Trigger's dead-letter sink wins over the Broker's, as in Knative's Kafka broker.
	var deadLetter *apis.URL
	switch {
	case t.Spec.Delivery != nil && t.Spec.Delivery.DeadLetterSink != nil:
		deadLetter, p = b.resolve(t.Spec.Delivery.DeadLetterSink, t.Namespace, "spec.delivery.deadLetterSink")
	case br.Spec.Delivery != nil && br.Spec.Delivery.DeadLetterSink != nil:
		deadLetter, p = b.resolve(br.Spec.Delivery.DeadLetterSink, br.Namespace, "the broker's spec.delivery.deadLetterSink")
	}
	if p != nil {
		return contract.Egress{}, p
	}
	group, err := b.names.TriggerConsumerGroup(t)
	if err != nil {
		return contract.Egress{}, b.nameProblem("consumer group", err)
	}
	eg, err := contractbuild.TriggerEgress(t, br, group, subscriber, deadLetter)
	if err != nil {
		return contract.Egress{}, problem(ReasonInvalid, "%v", err)
	}
	return eg, nil
}

func (b *builder) addressable(kind, namespace, name, address string, p *Problem) {
	a := addressable{problem: p}
	if p == nil {
		u, err := apis.ParseURL(address)
		if err != nil {
			a.problem = problem(ReasonInvalid, "address %q: %v", address, err)
		}
		a.address = u
	}
	b.addressables[addressableKey{kind, namespace, name}] = a
}

// resolve returns d's URL as Knative's resolver would, within the folder: a uri as it is; a ref
// to a Broker or KafkaChannel of the folder as that object's address, with d's uri (if any)
// resolved against it. Any other ref cannot be resolved without Kubernetes.
func (b *builder) resolve(d *duckv1.Destination, namespace, field string) (*apis.URL, *Problem) {
	if d.Ref == nil {
		if d.URI == nil {
			return nil, problem(ReasonInvalid, "%s has neither ref nor uri", field)
		}
		return d.URI, nil
	}
	ref := d.Ref
	ns := cmp.Or(ref.Namespace, namespace)
	kind := ""
	switch {
	case ref.Kind == contract.KindBroker && ref.APIVersion == eventingv1.SchemeGroupVersion.String():
		kind = contract.KindBroker
	case ref.Kind == contract.KindKafkaChannel && isKafkaChannelVersion(ref.APIVersion):
		kind = contract.KindKafkaChannel
	case ref.Kind == contract.KindKafkaSink && ref.APIVersion == eventingv1alpha1.SchemeGroupVersion.String():
		kind = contract.KindKafkaSink
	default:
		return nil, problem(ReasonRefNotSupported, "%s.ref (%s %s %s) cannot be resolved in local mode: only Brokers (%s), KafkaChannels (%s or %s) and KafkaSinks (%s) of the folder can; use %s.uri for anything else",
			field, ref.APIVersion, ref.Kind, ref.Name, eventingv1.SchemeGroupVersion, messagingv1beta1.SchemeGroupVersion, kafkaChannelV1, eventingv1alpha1.SchemeGroupVersion, field)
	}
	a, ok := b.addressables[addressableKey{kind, ns, ref.Name}]
	switch {
	case !ok:
		return nil, problem(ReasonRefNotFound, "%s.ref: %s %s/%s is not in the resources folder", field, kind, ns, ref.Name)
	case a.problem != nil:
		return nil, problem(ReasonRefNotReady, "%s.ref: %s %s/%s is not ready: %s", field, kind, ns, ref.Name, a.problem.Message)
	case d.URI != nil:
		return a.address.ResolveReference(d.URI), nil
	}
	return a.address, nil
}

// channelEntry is a KafkaChannel with what its Subscriptions need.
type channelEntry struct {
	parent
	kc         *messagingv1beta1.KafkaChannel
	deadLetter *apis.URL
}

func (b *builder) channels() map[string]channelEntry {
	out := map[string]channelEntry{}
	for _, kc := range b.set.Channels {
		o := Object{Kind: contract.KindKafkaChannel, Namespace: kc.Namespace, Name: kc.Name, UID: string(kc.UID)}
		entry := channelEntry{parent: parent{uid: o.UID}, kc: kc}
		res, topic, deadLetter, p := b.channel(kc)
		if p == nil {
			o.Address = "http://" + b.opts.IngressAddr + res.Ingress.Path
			b.resources[res.UID] = &res
			b.plan.Topics = append(b.plan.Topics, topic)
			entry.deadLetter = deadLetter
		}
		o.Problem, entry.problem = p, p
		out[kc.Namespace+"/"+kc.Name] = entry
		b.addressable(contract.KindKafkaChannel, kc.Namespace, kc.Name, o.Address, p)
		b.add(o)
	}
	return out
}

func (b *builder) channel(kc *messagingv1beta1.KafkaChannel) (contract.Resource, Topic, *apis.URL, *Problem) {
	ns, name := contractbuild.ChannelConfigMapNS, contractbuild.ChannelConfigMapName
	data, _, p := b.configData(ns, name)
	if p != nil {
		return contract.Resource{}, Topic{}, nil, p
	}
	cfg, err := contractbuild.ParseChannelConfig(data)
	if err != nil {
		return contract.Resource{}, Topic{}, nil, problem(ReasonConfigInvalid, "ConfigMap %s/%s: %v", ns, name, err)
	}
	var deadLetter *apis.URL
	if d := kc.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
		if deadLetter, p = b.resolve(d.DeadLetterSink, kc.Namespace, "spec.delivery.deadLetterSink"); p != nil {
			return contract.Resource{}, Topic{}, nil, p
		}
	}
	retention, err := kc.RetentionDuration()
	if err != nil {
		return contract.Resource{}, Topic{}, nil, problem(ReasonInvalid, "%v", err)
	}
	topicName, err := b.names.ChannelTopic(kc)
	if err != nil {
		return contract.Resource{}, Topic{}, nil, b.nameProblem("topic", err)
	}
	res := contractbuild.ChannelResource(kc, topicName, cfg)
	ms := strconv.FormatInt(retention.Milliseconds(), 10)
	topic := Topic{Owner: res.UID, Servers: res.BootstrapServers, Spec: kafka.TopicSpec{
		Name: res.Topic, Partitions: kc.Spec.NumPartitions, ReplicationFactor: kc.Spec.ReplicationFactor,
		Config: map[string]*string{"retention.ms": &ms},
	}}
	return res, topic, deadLetter, nil
}

func (b *builder) subscriptions(channels map[string]channelEntry) {
	for _, s := range b.set.Subscriptions {
		o := Object{Kind: contract.KindSubscription, Namespace: s.Namespace, Name: s.Name, UID: string(s.UID)}
		ref := s.Spec.Channel
		key := s.Namespace + "/" + ref.Name
		ch, ok := channels[key]
		o.Parent = ch.uid
		switch {
		case ref.Kind != "KafkaChannel" || (ref.APIVersion != "" && !isKafkaChannelVersion(ref.APIVersion)):
			o.Problem = problem(ReasonChannelUnsupported, "spec.channel must name a %s or %s KafkaChannel in local mode, got %s %s",
				messagingv1beta1.SchemeGroupVersion, kafkaChannelV1, ref.APIVersion, ref.Kind)
		case !ok:
			o.Problem = problem(ReasonChannelNotFound, "KafkaChannel %s is not in the resources folder", key)
		case ch.problem != nil:
			o.Problem = problem(ReasonChannelNotReady, "KafkaChannel %s: %s", key, ch.problem.Message)
		default:
			eg, p := b.subscriptionEgress(s, ch)
			if o.Problem = p; p == nil {
				res := b.resources[ch.uid]
				res.Egresses = append(res.Egresses, eg)
			}
		}
		b.add(o)
	}
}

// subscriptionEgress writes s as Knative's subscription reconciler would into the channel's
// spec.subscribers, then builds its egress from that.
func (b *builder) subscriptionEgress(s *messagingv1.Subscription, ch channelEntry) (contract.Egress, *Problem) {
	if s.Spec.Subscriber == nil {
		return contract.Egress{}, problem(ReasonInvalid, "spec.subscriber is required in local mode")
	}
	subscriber, p := b.resolve(s.Spec.Subscriber, s.Namespace, "spec.subscriber")
	if p != nil {
		return contract.Egress{}, p
	}
	name := s.Name
	spec := eventingduckv1.SubscriberSpec{UID: s.UID, Generation: s.Generation, Name: &name, SubscriberURI: subscriber}
	if s.Spec.Reply != nil {
		if spec.ReplyURI, p = b.resolve(s.Spec.Reply, s.Namespace, "spec.reply"); p != nil {
			return contract.Egress{}, p
		}
	}
	if d := s.Spec.Delivery; d != nil {
		delivery := *d
		if d.DeadLetterSink != nil {
			uri, p := b.resolve(d.DeadLetterSink, s.Namespace, "spec.delivery.deadLetterSink")
			if p != nil {
				return contract.Egress{}, p
			}
			delivery.DeadLetterSink = &duckv1.Destination{URI: uri}
		}
		spec.Delivery = &delivery
	}
	eg, err := contractbuild.SubscriberEgress(ch.kc, spec, s.Annotations, ch.deadLetter)
	if err != nil {
		return contract.Egress{}, problem(ReasonInvalid, "%v", err)
	}
	return eg, nil
}

// sinks adds every KafkaSink, as the reconciler builds it, addressed on the local ingress. Its
// bootstrap servers are its own, as on a cluster. A sink that owns its topic (numPartitions and
// replicationFactor set) gets it created, and deleted once the sink leaves the folder; another
// sink's topic belongs to other applications and is not created (a missing one shows as
// TopicNotFound), except in the embedded Kafka.
func (b *builder) sinks() {
	for _, ks := range b.set.Sinks {
		o := Object{Kind: contract.KindKafkaSink, Namespace: ks.Namespace, Name: ks.Name, UID: string(ks.UID)}
		res := contractbuild.SinkResource(ks, b.opts.IngressAddr)
		o.Address = contractbuild.SinkAddress(ks, b.opts.IngressAddr).String()
		b.resources[res.UID] = &res
		embedded := len(b.opts.DefaultServers) > 0 && slices.Equal(res.BootstrapServers, b.opts.DefaultServers)
		if spec := ks.Spec; spec.OwnsTopic() || embedded {
			topic := Topic{Owner: res.UID, Servers: res.BootstrapServers, Spec: kafka.TopicSpec{Name: res.Topic, Partitions: 1, ReplicationFactor: 1}}
			if spec.OwnsTopic() {
				topic.Spec.Partitions, topic.Spec.ReplicationFactor = *spec.NumPartitions, *spec.ReplicationFactor
			}
			b.plan.Topics = append(b.plan.Topics, topic)
		}
		b.addressable(contract.KindKafkaSink, ks.Namespace, ks.Name, o.Address, nil)
		b.add(o)
	}
}

// sources adds every KafkaSource: its sink (and dead-letter sink) resolved within the folder, its
// resource and single egress built as the reconciler builds them. Its topics belong to other
// applications: they are not created here (a missing one shows as TopicNotFound), except in the
// embedded Kafka.
func (b *builder) sources() {
	for _, ks := range b.set.Sources {
		o := Object{Kind: contract.KindKafkaSource, Namespace: ks.Namespace, Name: ks.Name, UID: string(ks.UID)}
		res, p := b.source(ks)
		if o.Problem = p; p == nil {
			b.resources[res.UID] = &res
		}
		b.add(o)
	}
}

func (b *builder) source(ks *sourcesv1beta1.KafkaSource) (contract.Resource, *Problem) {
	sink, p := b.resolve(&ks.Spec.Sink, ks.Namespace, "spec.sink")
	if p != nil {
		return contract.Resource{}, p
	}
	var deadLetter *apis.URL
	if d := ks.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
		if deadLetter, p = b.resolve(d.DeadLetterSink, ks.Namespace, "spec.delivery.deadLetterSink"); p != nil {
			return contract.Resource{}, p
		}
	}
	res, err := contractbuild.SourceResource(ks, sink, deadLetter)
	if err != nil {
		return contract.Resource{}, problem(ReasonInvalid, "%v", err)
	}
	// The embedded Kafka is a throwaway that no other application could have prepared: the
	// topics a source reads there are created with it.
	if len(b.opts.DefaultServers) > 0 && slices.Equal(res.BootstrapServers, b.opts.DefaultServers) {
		for _, t := range res.Topics {
			b.plan.Topics = append(b.plan.Topics, Topic{Owner: res.UID, Servers: res.BootstrapServers,
				Spec: kafka.TopicSpec{Name: t, Partitions: 1, ReplicationFactor: 1}})
		}
	}
	return res, nil
}

// kafkaChannelV1 is the other version the KafkaChannel CRD serves, with the same schema as
// messagingv1beta1's.
const kafkaChannelV1 = "messaging.knative.dev/v1"

// isKafkaChannelVersion reports whether apiVersion is one the KafkaChannel CRD serves.
func isKafkaChannelVersion(apiVersion string) bool {
	return apiVersion == messagingv1beta1.SchemeGroupVersion.String() || apiVersion == kafkaChannelV1
}
