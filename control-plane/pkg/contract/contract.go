// Package contract defines the routing contract that the control plane writes and the data plane
// follows: a Contract lists every Resource (a Broker, KafkaChannel or KafkaSink: where its ingress
// listens and which topic it writes; a KafkaSource: which topics it reads) and, per resource, every
// Egress (a Trigger or Subscription: consumer group, subscriber, filter, delivery, order and reply).
//
// Everything the data plane needs is resolved here by the control plane — names, URLs, consumer
// groups, merged delivery settings — so the data plane only obeys. The encoding is JSON; unknown
// fields are ignored so an older data plane tolerates a newer control plane. See shard.go for how a
// large contract is split over several ConfigMaps, and status.go for what the data plane reports back.
package contract

import (
	"encoding/json"
	"fmt"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"knkafka.dev/kafkaconn"
)

// SchemaVersion is the version of the contract's shape. It changes only on an incompatible change.
const SchemaVersion = 1

// Contract is the whole routing state at one generation.
type Contract struct {
	// SchemaVersion is SchemaVersion of the writer.
	SchemaVersion int `json:"schemaVersion"`
	// Generation increases with every change of content; the data plane reports the one it applied.
	Generation uint64 `json:"generation"`
	// Resources are the brokers and channels, sorted by UID.
	Resources []Resource `json:"resources"`
}

// Kind names of contract resources and egresses.
const (
	KindBroker       = "Broker"
	KindKafkaChannel = "KafkaChannel"
	KindTrigger      = "Trigger"
	KindSubscription = "Subscription"
	// KindKafkaSource is a KafkaSource: a resource without an ingress that reads Topics and
	// whose one egress (UID = the source's UID) delivers every record, converted to a CloudEvent
	// as Source says.
	KindKafkaSource = "KafkaSource"
	// KindKafkaSink is a KafkaSink: a resource with an ingress and no egresses, whose records are
	// written in its ContentMode.
	KindKafkaSink = "KafkaSink"
)

// Resource is one addressable object that accepts events into one topic.
type Resource struct {
	// UID is the Kubernetes UID of the Broker, KafkaChannel, KafkaSink or KafkaSource.
	UID       string `json:"uid"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Topic is the Kafka topic events are written to and read from (brokers and channels).
	Topic string `json:"topic"`
	// Topics are the topics a KafkaSource reads; empty for brokers and channels. Use ReadTopics.
	Topics []string `json:"topics,omitempty"`
	// Source, set only for a KafkaSource, says how its records become CloudEvents.
	Source *Source `json:"source,omitempty"`
	// BootstrapServers are the Kafka brokers of Topic.
	BootstrapServers []string `json:"bootstrapServers"`
	// Auth references the Secret with the Kafka credentials (a Broker's, KafkaChannel's or
	// KafkaSink's auth.secret.ref); nil for none. Parse its data with kafkaconn.ParseSecret.
	Auth *SecretRef `json:"auth,omitempty"`
	// Net is a KafkaSource's spec.net: references to keys of Secrets in Namespace, never their
	// values; nil for none. Parse it with kafkaconn.ParseNet. At most one of Auth and Net is set.
	Net *kafkaconn.Net `json:"net,omitempty"`
	// Ingress is where the ingress accepts events for this resource; nil for none.
	Ingress *Ingress `json:"ingress,omitempty"`
	// Egresses deliver the topic's events; sorted by UID.
	Egresses []Egress `json:"egresses,omitempty"`
	// ContentMode is how the ingress writes the events it accepts into Topic; empty means
	// ContentModeBinary. Only KafkaSinks set it.
	ContentMode ContentMode `json:"contentMode,omitempty"`
}

// ContentMode is a record layout of the CloudEvents Kafka protocol binding.
type ContentMode string

// Content modes.
const (
	// ContentModeBinary writes attributes as ce_* headers and the data as the record value.
	ContentModeBinary ContentMode = "binary"
	// ContentModeStructured writes the whole event as JSON in the record value, with the header
	// content-type: application/cloudevents+json.
	ContentModeStructured ContentMode = "structured"
)

// ReadTopics are the topics the egresses of r consume: Topics when set, else Topic.
func (r *Resource) ReadTopics() []string {
	if len(r.Topics) > 0 {
		return r.Topics
	}
	if r.Topic == "" {
		return nil
	}
	return []string{r.Topic}
}

// Origin is where the client settings of r come from — its auth Secret or its spec.net — for
// kafkaconn.Refusal to name the Secret keys behind a refused connection.
func (r *Resource) Origin() kafkaconn.Origin {
	o := kafkaconn.Origin{Net: r.Net, Namespace: r.Namespace}
	if r.Auth != nil {
		o.Secret = r.Auth.Namespace + "/" + r.Auth.Name
	}
	return o
}

// KeyType is how a KafkaSource reads record keys.
type KeyType string

// Key types, as the label kafkasources.sources.knative.dev/key-type names them.
const (
	// KeyString reads the key as UTF-8 text (the default).
	KeyString KeyType = "string"
	// KeyInt reads a 4- or 8-byte big-endian signed integer.
	KeyInt KeyType = "int"
	// KeyFloat reads a 4- or 8-byte big-endian IEEE 754 float.
	KeyFloat KeyType = "float"
	// KeyByteArray keeps the key's bytes (base64 in the key extension).
	KeyByteArray KeyType = "byte-array"
)

// Source says how a KafkaSource turns records into CloudEvents. A record that already is a
// CloudEvent (binary ce_ headers or structured) passes through; any other record becomes an event
// of type dev.knative.kafka.event whose source is EventSource + "#" + the record's topic.
type Source struct {
	// EventSource is "/apis/v1/namespaces/<namespace>/kafkasources/<name>".
	EventSource string `json:"eventSource"`
	// KeyType is how record keys are read; empty means KeyString.
	KeyType KeyType `json:"keyType,omitempty"`
	// Extensions are CloudEvents extensions set on every event (the source's ceOverrides).
	Extensions map[string]string `json:"extensions,omitempty"`
}

// InitialOffset is where a consumer group without a committed offset starts.
type InitialOffset string

// Initial offsets.
const (
	// OffsetLatest starts at the end of each partition (the default): only new records.
	OffsetLatest InitialOffset = "latest"
	// OffsetEarliest starts at the beginning of each partition.
	OffsetEarliest InitialOffset = "earliest"
)

// Ingress says how HTTP requests reach a resource.
type Ingress struct {
	// Path is the request path, "/<namespace>/<name>".
	Path string `json:"path"`
	// Host, when set, also routes requests whose Host header equals it (channels).
	Host string `json:"host,omitempty"`
	// PathHost, when set, scopes Path to requests whose Host header is PathHost (sinks, on the
	// sink ingress host): a KafkaSink and a Broker of the same namespace and name share a path,
	// told apart by the hosts of their addresses. A request for any other host still reaches Path
	// when no resource without a PathHost claims it (local mode, a port-forward).
	PathHost string `json:"pathHost,omitempty"`
}

// SecretRef names a Secret.
type SecretRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// DeliveryOrder is how an egress orders deliveries.
type DeliveryOrder string

// Delivery orders.
const (
	// Unordered delivers up to Egress.MaxInFlight events at once.
	Unordered DeliveryOrder = "unordered"
	// Ordered delivers one event at a time per partition.
	Ordered DeliveryOrder = "ordered"
	// KeyOrdered delivers in parallel across record keys, one at a time per key.
	KeyOrdered DeliveryOrder = "key-ordered"
)

// ReplyKind says where a subscriber's reply goes.
type ReplyKind string

// Reply kinds.
const (
	// ReplyDiscard drops replies.
	ReplyDiscard ReplyKind = "discard"
	// ReplyTopic writes replies back onto the resource's topic (Triggers).
	ReplyTopic ReplyKind = "topic"
	// ReplyURL posts replies to Reply.URL (Subscriptions with a reply).
	ReplyURL ReplyKind = "url"
)

// Reply routes replies.
type Reply struct {
	Kind ReplyKind `json:"kind"`
	// URL is the reply destination for ReplyURL.
	URL string `json:"url,omitempty"`
}

// Egress is one subscriber of a resource's topic.
type Egress struct {
	// UID is the Kubernetes UID of the Trigger or Subscription.
	UID       string `json:"uid"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ConsumerGroup is the Kafka consumer group that tracks this egress's offsets.
	ConsumerGroup string `json:"consumerGroup"`
	// Destination is the subscriber URL.
	Destination string `json:"destination"`
	// Reply routes the subscriber's replies.
	Reply Reply `json:"reply"`
	// DeadLetter is the dead-letter sink URL; empty for none.
	DeadLetter string `json:"deadLetter,omitempty"`
	// Delivery holds the merged retry settings.
	Delivery Delivery `json:"delivery"`
	// Order is the delivery order; empty means Unordered.
	Order DeliveryOrder `json:"order,omitempty"`
	// MaxInFlight bounds concurrent deliveries for Unordered and KeyOrdered; 0 means the
	// dispatcher's default.
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// Filter selects the events to deliver; nil delivers all.
	Filter *Filter `json:"filter,omitempty"`
	// InitialOffset is where the consumer group starts while it has no committed offset; empty
	// means OffsetLatest. Only KafkaSources set it today.
	InitialOffset InitialOffset `json:"initialOffset,omitempty"`
}

// Filter is a Trigger's filter: the legacy exact-match attributes, the SubscriptionsAPI filters,
// or both (as Knative does, the new filters win when both are set).
type Filter struct {
	Attributes map[string]string                   `json:"attributes,omitempty"`
	Filters    []eventingv1.SubscriptionsAPIFilter `json:"filters,omitempty"`
}

// BackoffPolicy is linear or exponential, as in Knative's delivery spec.
type BackoffPolicy string

// Backoff policies.
const (
	BackoffLinear      BackoffPolicy = "linear"
	BackoffExponential BackoffPolicy = "exponential"
)

// Delivery are the retry settings of Knative's delivery spec, resolved to plain values.
type Delivery struct {
	// Retry is the number of retries after the first attempt.
	Retry int32 `json:"retry,omitempty"`
	// BackoffPolicy defaults to exponential.
	BackoffPolicy BackoffPolicy `json:"backoffPolicy,omitempty"`
	// BackoffDelay is the base delay between attempts.
	BackoffDelay Duration `json:"backoffDelay,omitempty"`
	// Timeout bounds each attempt; 0 means the dispatcher's default.
	Timeout Duration `json:"timeout,omitempty"`
	// RetryAfterMax caps a subscriber's Retry-After; 0 means Retry-After is ignored.
	RetryAfterMax Duration `json:"retryAfterMax,omitempty"`
}

// Duration is a time.Duration written as Go's duration string ("1.5s").
type Duration time.Duration

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration must be a string like \"1s\" or nanoseconds: %s", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Marshal encodes a contract.
func Marshal(c *Contract) ([]byte, error) {
	return json.Marshal(c)
}

// Unmarshal decodes a contract, ignoring unknown fields and rejecting a newer schema version.
func Unmarshal(b []byte) (*Contract, error) {
	var c Contract
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decoding contract: %w", err)
	}
	if c.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("contract schema version %d is newer than this data plane's %d", c.SchemaVersion, SchemaVersion)
	}
	return &c, nil
}
