// Package resources reads the Knative objects of the local mode from a folder of YAML files —
// Brokers, Triggers, KafkaChannels, Subscriptions, KafkaSources, KafkaSinks, the kafka-*-config ConfigMaps
// and the Secrets with Kafka credentials, the same kinds and shapes users apply to a cluster —
// into a Set. Load reports every bad file with its path and
// reason, so the caller can keep running the last good Set.
package resources

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/pkg/apis"

	eventingv1alpha1 "knkafka.dev/control-plane/pkg/apis/eventing/v1alpha1"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	sourcesv1beta1 "knkafka.dev/control-plane/pkg/apis/sources/v1beta1"
)

// Set is the objects read from a folder. Objects get deterministic UIDs derived from their kind,
// namespace and name, so consumer groups (which embed a Subscription's UID) survive restarts.
type Set struct {
	Brokers       []*eventingv1.Broker
	Triggers      []*eventingv1.Trigger
	Channels      []*messagingv1beta1.KafkaChannel
	Subscriptions []*messagingv1.Subscription
	Sources       []*sourcesv1beta1.KafkaSource
	Sinks         []*eventingv1alpha1.KafkaSink
	ConfigMaps    []*corev1.ConfigMap
	// Secrets hold Kafka credentials. Their Data is what the API server would store: data with
	// stringData merged over it; StringData is empty.
	Secrets []*corev1.Secret
}

// Empty reports whether s holds no object at all.
func (s *Set) Empty() bool {
	return len(s.Brokers)+len(s.Triggers)+len(s.Channels)+len(s.Subscriptions)+len(s.Sources)+len(s.Sinks)+len(s.ConfigMaps)+len(s.Secrets) == 0
}

// FileError says why one file was not read.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, eventingv1.AddToScheme, messagingv1.AddToScheme, messagingv1beta1.AddToScheme,
		sourcesv1beta1.AddToScheme, eventingv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err) // the schemes are static; failing here is a programming error
		}
	}
	// KafkaSource is served as sources.knative.dev/v1 too, and KafkaChannel as
	// messaging.knative.dev/v1, each with the same schema as its stored version.
	scheme.AddKnownTypeWithName(sourcesv1beta1.SchemeGroupVersion.WithKind("KafkaSource").GroupKind().WithVersion("v1"), &sourcesv1beta1.KafkaSource{})
	scheme.AddKnownTypeWithName(messagingv1beta1.SchemeGroupVersion.WithKind("KafkaChannel").GroupKind().WithVersion("v1"), &messagingv1beta1.KafkaChannel{})
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// Load reads every *.yaml and *.yml file of dir (not recursively). The Set holds the objects of
// the files that were read; the error joins a *FileError for each file that was not.
func Load(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading resources folder: %w", err)
	}
	var parts []*Set
	var errs []error
	for _, entry := range entries {
		if entry.IsDir() || !IsResourceFile(entry.Name()) {
			continue
		}
		part, err := ReadFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parts = append(parts, part)
	}
	set, err := Merge(parts...)
	errs = append(errs, err)
	return set, errors.Join(errs...)
}

// IsResourceFile reports whether Load reads a file named name: *.yaml or *.yml, not hidden.
func IsResourceFile(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))
}

// ReadFile reads the objects of one file, defaulted and validated. A file with any bad document
// yields no objects and a *FileError.
func ReadFile(path string) (*Set, error) {
	part := &Set{}
	if err := part.readFile(path); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	part.sort()
	return part, nil
}

// Merge joins parts, in order, into one sorted Set. An object defined more than once is kept as
// its first definition and reported in the error.
func Merge(parts ...*Set) (*Set, error) {
	set := &Set{}
	for _, p := range parts {
		set.add(p)
	}
	err := set.dropDuplicates()
	set.sort()
	return set, err
}

func (s *Set) readFile(path string) error {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || isOnlyComments(raw) {
			continue
		}
		obj, gvk, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if err := s.addObject(obj); err != nil {
			return fmt.Errorf("document %d (%s): %w", doc, gvk.Kind, err)
		}
	}
}

func isOnlyComments(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return false
		}
	}
	return true
}

// validatable is a Knative object with defaults and validation.
type validatable interface {
	apis.Defaultable
	apis.Validatable
}

func (s *Set) addObject(obj runtime.Object) error {
	ctx := context.Background()
	switch o := obj.(type) {
	case *eventingv1.Broker:
		// Knative would default the class to its channel-based broker; here every broker is Kafka.
		if o.Annotations[eventingv1.BrokerClassAnnotationKey] == "" {
			if o.Annotations == nil {
				o.Annotations = map[string]string{}
			}
			o.Annotations[eventingv1.BrokerClassAnnotationKey] = "Kafka"
		}
		return s.prepare(ctx, o, &o.Namespace, o.Name, "Broker", &o.UID, func() { s.Brokers = append(s.Brokers, o) })
	case *eventingv1.Trigger:
		return s.prepare(ctx, o, &o.Namespace, o.Name, "Trigger", &o.UID, func() { s.Triggers = append(s.Triggers, o) })
	case *messagingv1beta1.KafkaChannel:
		return s.prepare(ctx, o, &o.Namespace, o.Name, "KafkaChannel", &o.UID, func() { s.Channels = append(s.Channels, o) })
	case *messagingv1.Subscription:
		return s.prepare(ctx, o, &o.Namespace, o.Name, "Subscription", &o.UID, func() { s.Subscriptions = append(s.Subscriptions, o) })
	case *sourcesv1beta1.KafkaSource:
		// The webhook defaults an empty consumer group to a random name; here the name must
		// survive restarts (so must the group's offsets), so it derives from the stable UID.
		if o.Spec.ConsumerGroup == "" {
			ns := o.Namespace
			if ns == "" {
				ns = "default"
			}
			o.Spec.ConsumerGroup = "knative-kafka-source-" + string(uid("KafkaSource", ns, o.Name))
		}
		return s.prepare(ctx, o, &o.Namespace, o.Name, "KafkaSource", &o.UID, func() { s.Sources = append(s.Sources, o) })
	case *eventingv1alpha1.KafkaSink:
		return s.prepare(ctx, o, &o.Namespace, o.Name, "KafkaSink", &o.UID, func() { s.Sinks = append(s.Sinks, o) })
	case *corev1.ConfigMap:
		if o.Name == "" {
			return errors.New("metadata.name is required")
		}
		if o.Namespace == "" {
			o.Namespace = "knative-eventing"
		}
		o.UID = uid("ConfigMap", o.Namespace, o.Name)
		s.ConfigMaps = append(s.ConfigMaps, o)
		return nil
	case *corev1.Secret:
		return s.addSecret(o)
	default:
		return fmt.Errorf("kind %T is not supported here (Broker, Trigger, KafkaChannel, Subscription, KafkaSource, KafkaSink, ConfigMap, Secret are)", obj)
	}
}

// addSecret keeps a Secret as the API server would store it: stringData merged over data (the
// decoder already base64-decoded data). Like a ConfigMap, a Secret without a namespace is in
// knative-eventing, where the kafka-*-config ConfigMaps that name it live; a KafkaSource's
// Secrets are in its own namespace, so give theirs.
func (s *Set) addSecret(o *corev1.Secret) error {
	if o.Name == "" {
		return errors.New("metadata.name is required")
	}
	if o.Namespace == "" {
		o.Namespace = "knative-eventing"
	}
	if len(o.StringData) > 0 {
		if o.Data == nil {
			o.Data = make(map[string][]byte, len(o.StringData))
		}
		for k, v := range o.StringData {
			o.Data[k] = []byte(v)
		}
		o.StringData = nil
	}
	o.UID = uid("Secret", o.Namespace, o.Name)
	s.Secrets = append(s.Secrets, o)
	return nil
}

// prepare defaults and validates a Knative object the way the webhooks would, then keeps it.
func (s *Set) prepare(ctx context.Context, o validatable, namespace *string, name, kind string, id *types.UID, keep func()) error {
	if name == "" {
		return errors.New("metadata.name is required")
	}
	if *namespace == "" {
		*namespace = "default"
	}
	o.SetDefaults(ctx)
	if err := o.Validate(ctx); err != nil {
		return fmt.Errorf("%s %s/%s is invalid: %w", kind, *namespace, name, err)
	}
	*id = uid(kind, *namespace, name)
	keep()
	return nil
}

// uid derives a stable, UUID-shaped UID from an object's identity.
func uid(kind, namespace, name string) types.UID {
	h := sha256.Sum256([]byte(kind + "/" + namespace + "/" + name))
	h[6] = h[6]&0x0f | 0x50 // version 5 shape
	h[8] = h[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

func (s *Set) add(o *Set) {
	s.Brokers = append(s.Brokers, o.Brokers...)
	s.Triggers = append(s.Triggers, o.Triggers...)
	s.Channels = append(s.Channels, o.Channels...)
	s.Subscriptions = append(s.Subscriptions, o.Subscriptions...)
	s.Sources = append(s.Sources, o.Sources...)
	s.Sinks = append(s.Sinks, o.Sinks...)
	s.ConfigMaps = append(s.ConfigMaps, o.ConfigMaps...)
	s.Secrets = append(s.Secrets, o.Secrets...)
}

func (s *Set) dropDuplicates() error {
	seen := map[types.UID]bool{}
	var errs []error
	s.Brokers = keepFirst(s.Brokers, seen, &errs, "Broker")
	s.Triggers = keepFirst(s.Triggers, seen, &errs, "Trigger")
	s.Channels = keepFirst(s.Channels, seen, &errs, "KafkaChannel")
	s.Subscriptions = keepFirst(s.Subscriptions, seen, &errs, "Subscription")
	s.Sources = keepFirst(s.Sources, seen, &errs, "KafkaSource")
	s.Sinks = keepFirst(s.Sinks, seen, &errs, "KafkaSink")
	s.ConfigMaps = keepFirst(s.ConfigMaps, seen, &errs, "ConfigMap")
	s.Secrets = keepFirst(s.Secrets, seen, &errs, "Secret")
	return errors.Join(errs...)
}

// keepFirst drops the objects whose UID was seen, reporting each.
func keepFirst[T interface {
	GetUID() types.UID
	GetNamespace() string
	GetName() string
}](objs []T, seen map[types.UID]bool, errs *[]error, kind string) []T {
	out := objs[:0]
	for _, o := range objs {
		if seen[o.GetUID()] {
			*errs = append(*errs, fmt.Errorf("%s %s/%s is defined more than once", kind, o.GetNamespace(), o.GetName()))
			continue
		}
		seen[o.GetUID()] = true
		out = append(out, o)
	}
	return out
}

func (s *Set) sort() {
	sort.Slice(s.Brokers, func(i, j int) bool { return s.Brokers[i].UID < s.Brokers[j].UID })
	sort.Slice(s.Triggers, func(i, j int) bool { return s.Triggers[i].UID < s.Triggers[j].UID })
	sort.Slice(s.Channels, func(i, j int) bool { return s.Channels[i].UID < s.Channels[j].UID })
	sort.Slice(s.Subscriptions, func(i, j int) bool { return s.Subscriptions[i].UID < s.Subscriptions[j].UID })
	sort.Slice(s.Sources, func(i, j int) bool { return s.Sources[i].UID < s.Sources[j].UID })
	sort.Slice(s.Sinks, func(i, j int) bool { return s.Sinks[i].UID < s.Sinks[j].UID })
	sort.Slice(s.ConfigMaps, func(i, j int) bool { return s.ConfigMaps[i].UID < s.ConfigMaps[j].UID })
	sort.Slice(s.Secrets, func(i, j int) bool { return s.Secrets[i].UID < s.Secrets[j].UID })
}

// ConfigMap returns the ConfigMap namespace/name of the set.
func (s *Set) ConfigMap(namespace, name string) (*corev1.ConfigMap, bool) {
	for _, cm := range s.ConfigMaps {
		if cm.Namespace == namespace && cm.Name == name {
			return cm, true
		}
	}
	return nil, false
}
