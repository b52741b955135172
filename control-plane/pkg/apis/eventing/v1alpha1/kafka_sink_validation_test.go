package v1alpha1

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

func ptr[T any](v T) *T { return &v }

// validSink is a defaulted KafkaSink that passes validation; opts change it.
func validSink(opts ...func(*KafkaSink)) *KafkaSink {
	ks := &KafkaSink{
		ObjectMeta: metav1.ObjectMeta{Name: "snk", Namespace: "ns"},
		Spec:       KafkaSinkSpec{Topic: "orders", BootstrapServers: []string{"kafka:9092"}, ContentMode: ptr(ModeBinary)},
	}
	for _, opt := range opts {
		opt(ks)
	}
	return ks
}

func TestKafkaSinkValidateCreate(t *testing.T) {
	tests := []struct {
		name string
		ks   *KafkaSink
		want string // the error's text; empty for none
	}{{
		name: "valid on an existing topic",
		ks:   validSink(),
	}, {
		name: "valid owning its topic, structured, with auth",
		ks: validSink(func(ks *KafkaSink) {
			ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = ptr(int32(3)), ptr(int16(2))
			ks.Spec.ContentMode = ptr(ModeStructured)
			ks.Spec.Auth = &Auth{Secret: &Secret{Ref: &SecretReference{Name: "creds"}}}
		}),
	}, {
		name: "an unset content mode means binary",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.ContentMode = nil }),
	}, {
		name: "the topic is required",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.Topic = "" }),
		want: "missing field(s): spec.topic",
	}, {
		name: "a topic Kafka would refuse",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.Topic = "orders/eu" }),
		want: "invalid value: orders/eu: spec.topic\na topic name holds only ASCII letters, digits, '.', '_' and '-'",
	}, {
		name: "a topic named ..",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.Topic = ".." }),
		want: `invalid value: ..: spec.topic` + "\n" + `a topic cannot be named "." or ".."`,
	}, {
		name: "a topic name too long",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.Topic = strings.Repeat("a", 250) }),
		want: "a topic name has at most 249 characters",
	}, {
		name: "bootstrap servers are required",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.BootstrapServers = nil }),
		want: "missing field(s): spec.bootstrapServers",
	}, {
		name: "an empty bootstrap server",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.BootstrapServers = []string{"kafka:9092", " "} }),
		want: "invalid value:  : spec.bootstrapServers[1]",
	}, {
		name: "an unknown content mode",
		ks:   validSink(func(ks *KafkaSink) { ks.Spec.ContentMode = ptr("batch") }),
		want: "invalid value: batch: spec.contentMode\nexpected \"binary\" or \"structured\"",
	}, {
		name: "partitions and replication must be positive",
		ks: validSink(func(ks *KafkaSink) {
			ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = ptr(int32(0)), ptr(int16(-1))
		}),
		want: "invalid value: -1: spec.replicationFactor\nthe topic needs at least one replica\ninvalid value: 0: spec.numPartitions\nthe topic needs at least one partition",
	}, {
		name: "a secret reference needs a name",
		ks: validSink(func(ks *KafkaSink) {
			ks.Spec.Auth = &Auth{Secret: &Secret{Ref: &SecretReference{}}}
		}),
		want: "missing field(s): spec.auth.secret.ref.name",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ks.Validate(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestKafkaSinkValidateUpdate(t *testing.T) {
	tests := []struct {
		name   string
		before *KafkaSink
		after  *KafkaSink
		want   *apis.FieldError
	}{{
		name:   "changing the content mode, servers and auth is allowed",
		before: validSink(),
		after: validSink(func(ks *KafkaSink) {
			ks.Spec.ContentMode = ptr(ModeStructured)
			ks.Spec.BootstrapServers = []string{"other:9092"}
			ks.Spec.Auth = &Auth{Secret: &Secret{Ref: &SecretReference{Name: "creds"}}}
		}),
	}, {
		name:   "the topic is immutable",
		before: validSink(),
		after:  validSink(func(ks *KafkaSink) { ks.Spec.Topic = "refunds" }),
		want:   &apis.FieldError{Message: "Immutable fields changed (-old +new)", Paths: []string{"spec.topic"}, Details: "-orders +refunds"},
	}, {
		name:   "taking ownership of the topic is refused",
		before: validSink(),
		after: validSink(func(ks *KafkaSink) {
			ks.Spec.NumPartitions, ks.Spec.ReplicationFactor = ptr(int32(3)), ptr(int16(1))
		}),
		want: (&apis.FieldError{Message: "Immutable fields changed (-old +new)", Paths: []string{"spec.numPartitions"}, Details: "-unset +3"}).
			Also(&apis.FieldError{Message: "Immutable fields changed (-old +new)", Paths: []string{"spec.replicationFactor"}, Details: "-unset +1"}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := apis.WithinUpdate(context.Background(), tt.before)
			got := tt.after.Validate(ctx)
			if diff := cmp.Diff(tt.want.Error(), got.Error()); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKafkaSinkSetDefaults(t *testing.T) {
	ks := validSink(func(ks *KafkaSink) { ks.Spec.ContentMode = ptr("") })
	ks.SetDefaults(context.Background())
	if got := *ks.Spec.ContentMode; got != ModeBinary {
		t.Errorf("contentMode = %q, want %q", got, ModeBinary)
	}
	ks = validSink(func(ks *KafkaSink) { ks.Spec.ContentMode = ptr(ModeStructured) })
	ks.SetDefaults(context.Background())
	if got := *ks.Spec.ContentMode; got != ModeStructured {
		t.Errorf("contentMode = %q, want %q kept", got, ModeStructured)
	}
}
