package v1alpha1

import (
	"context"
	"fmt"
	"strings"

	"knative.dev/pkg/apis"
)

// maxTopicLength is the longest topic name Kafka accepts.
const maxTopicLength = 249

// Validate checks a KafkaSink on admission: the spec and, on update, that the topic and its shape
// are unchanged.
func (ks *KafkaSink) Validate(ctx context.Context) *apis.FieldError {
	errs := ks.Spec.Validate(ctx).ViaField("spec")
	if apis.IsInUpdate(ctx) {
		if original, ok := apis.GetBaseline(ctx).(*KafkaSink); ok {
			errs = errs.Also(ks.CheckImmutableFields(ctx, original))
		}
	}
	return errs
}

// Validate checks the topic name, the bootstrap servers, the content mode, the topic shape and
// the auth Secret reference.
func (s *KafkaSinkSpec) Validate(context.Context) *apis.FieldError {
	var errs *apis.FieldError
	if s.Topic == "" {
		errs = errs.Also(apis.ErrMissingField("topic"))
	} else if reason := invalidTopic(s.Topic); reason != "" {
		fe := apis.ErrInvalidValue(s.Topic, "topic")
		fe.Details = reason
		errs = errs.Also(fe)
	}
	if len(s.BootstrapServers) == 0 {
		errs = errs.Also(apis.ErrMissingField("bootstrapServers"))
	}
	for i, server := range s.BootstrapServers {
		if strings.TrimSpace(server) == "" {
			errs = errs.Also(apis.ErrInvalidArrayValue(server, "bootstrapServers", i))
		}
	}
	if mode := s.Mode(); mode != ModeBinary && mode != ModeStructured {
		fe := apis.ErrInvalidValue(mode, "contentMode")
		fe.Details = fmt.Sprintf("expected %q or %q", ModeBinary, ModeStructured)
		errs = errs.Also(fe)
	}
	if s.NumPartitions != nil && *s.NumPartitions <= 0 {
		fe := apis.ErrInvalidValue(*s.NumPartitions, "numPartitions")
		fe.Details = "the topic needs at least one partition"
		errs = errs.Also(fe)
	}
	if s.ReplicationFactor != nil && *s.ReplicationFactor <= 0 {
		fe := apis.ErrInvalidValue(*s.ReplicationFactor, "replicationFactor")
		fe.Details = "the topic needs at least one replica"
		errs = errs.Also(fe)
	}
	if s.Auth != nil && s.Auth.Secret != nil && s.Auth.Secret.Ref != nil && s.Auth.Secret.Ref.Name == "" {
		errs = errs.Also(apis.ErrMissingField("auth.secret.ref.name"))
	}
	return errs
}

// invalidTopic says why Kafka would refuse name as a topic name; empty when it would not.
func invalidTopic(name string) string {
	if name == "." || name == ".." {
		return "a topic cannot be named \".\" or \"..\""
	}
	if len(name) > maxTopicLength {
		return fmt.Sprintf("a topic name has at most %d characters", maxTopicLength)
	}
	for _, c := range name {
		if !topicChar(c) {
			return "a topic name holds only ASCII letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

func topicChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// CheckImmutableFields rejects an update that changes the topic, numPartitions or
// replicationFactor: the sink's records and its topic's ownership follow from them.
func (ks *KafkaSink) CheckImmutableFields(_ context.Context, original *KafkaSink) *apis.FieldError {
	if original == nil {
		return nil
	}
	var errs *apis.FieldError
	before, after := original.Spec, ks.Spec
	if before.Topic != after.Topic {
		errs = errs.Also(immutable("topic", before.Topic, after.Topic))
	}
	if !equalPtr(before.NumPartitions, after.NumPartitions) {
		errs = errs.Also(immutable("numPartitions", show(before.NumPartitions), show(after.NumPartitions)))
	}
	if !equalPtr(before.ReplicationFactor, after.ReplicationFactor) {
		errs = errs.Also(immutable("replicationFactor", show(before.ReplicationFactor), show(after.ReplicationFactor)))
	}
	return errs.ViaField("spec")
}

func immutable(field string, before, after any) *apis.FieldError {
	return &apis.FieldError{
		Message: "Immutable fields changed (-old +new)",
		Paths:   []string{field},
		Details: fmt.Sprintf("-%v +%v", before, after),
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// show prints a pointer's value, or "unset".
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
