// Package kafkaauth turns the Secret references of a contract Resource — a Broker's or
// KafkaChannel's Auth, a KafkaSource's Net — into the kafkaconn.Security its Kafka clients use,
// reading the Secrets' data from a Source.
//
// The key types: Secrets is the one question Resolve asks (a Secret's data by namespace and
// name); Source adds what a data plane needs to follow rotations: Follow (which Secrets the
// current contract references — a watching Source watches those and no others) and Changes (a
// followed Secret's data was added, changed or removed). Kubernetes is the Source of a cluster
// (one watch per referenced Secret), Static the one of tests and local mode.
//
// Refs lists what a contract references; Resolve gives a Resource's Security or a
// *kafkaconn.Error naming the Secret and key at fault; Refused explains a connection Kafka
// refused with the Secret and the keys that were used. Nothing here logs or returns a value
// read from a Secret.
package kafkaauth

import (
	"context"
	"errors"
	"slices"
	"strings"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/kafkaconn"
)

// Ref names a Secret.
type Ref struct {
	Namespace, Name string
}

// String is "namespace/name", the form errors and logs name a Secret by.
func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// Secrets gives the data of Secrets (with stringData merged, as the API server stores it).
type Secrets interface {
	// Secret returns the data of the Secret namespace/name, and whether it exists. The data must
	// not be modified.
	Secret(namespace, name string) (data map[string][]byte, found bool)
}

// Source is Secrets that can follow the Secrets a contract references.
type Source interface {
	Secrets
	// Follow says which Secrets the current contract references. A Source that watches watches
	// exactly these from now on, and returns once each newly referenced one was read for the
	// first time, so that a new contract sees it; ctx bounds the wait.
	Follow(ctx context.Context, refs []Ref) error
	// Changes receives a value (coalesced, never blocking the Source) when the data of a
	// followed Secret was added, changed or removed.
	Changes() <-chan struct{}
}

// Refs returns the Secrets the resources of c reference, sorted, without duplicates.
func Refs(c *contract.Contract) []Ref {
	if c == nil {
		return nil
	}
	var refs []Ref
	for i := range c.Resources {
		refs = append(refs, ResourceRefs(&c.Resources[i])...)
	}
	slices.SortFunc(refs, compareRefs)
	return slices.Compact(refs)
}

// ResourceRefs returns the Secrets r references: its Auth, or the Secrets of its Net (in its
// namespace).
func ResourceRefs(r *contract.Resource) []Ref {
	var refs []Ref
	if r.Auth != nil {
		refs = append(refs, Ref{Namespace: r.Auth.Namespace, Name: r.Auth.Name})
	}
	if r.Net != nil {
		for _, name := range r.Net.Secrets() {
			refs = append(refs, Ref{Namespace: r.Namespace, Name: name})
		}
	}
	return refs
}

func compareRefs(a, b Ref) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Resolve returns the Security of r's Kafka clients: nil (PLAINTEXT) when r references no
// Secret, else the parsed Auth Secret (kafkaconn.ParseSecret) or Net (kafkaconn.ParseNet). A
// Secret that does not exist is a *kafkaconn.Error with ReasonSecretNotFound; a Secret that
// does not parse is ParseSecret's *kafkaconn.Error with the Secret's name added. A nil secrets
// finds no Secret.
func Resolve(secrets Secrets, r *contract.Resource) (*kafkaconn.Security, error) {
	get := func(namespace, name string) (map[string][]byte, bool) {
		if secrets == nil {
			return nil, false
		}
		return secrets.Secret(namespace, name)
	}
	switch {
	case r.Auth != nil:
		ref := Ref{Namespace: r.Auth.Namespace, Name: r.Auth.Name}
		data, ok := get(ref.Namespace, ref.Name)
		if !ok {
			return nil, kafkaconn.SecretNotFound(ref.String())
		}
		sec, err := kafkaconn.ParseSecret(data)
		if err != nil {
			var e *kafkaconn.Error
			if errors.As(err, &e) && e.Secret == "" {
				e.Secret = ref.String()
			}
			return nil, err
		}
		return sec, nil
	case r.Net != nil:
		found := map[string]map[string][]byte{}
		for _, name := range r.Net.Secrets() {
			if data, ok := get(r.Namespace, name); ok {
				found[name] = data
			}
		}
		return kafkaconn.ParseNet(*r.Net, found)
	}
	return nil, nil
}

// Func is how the ingress and the dispatcher learn the Security of a resource's clients.
type Func func(*contract.Resource) (*kafkaconn.Security, error)

// Refused explains err, the failure of a connection to r's cluster, when it is a Secret that
// cannot be used or Kafka refusing the settings r's Secrets gave (kafkaconn.Refusal): the reason
// and a message that names the Secret and the keys involved, never their values. ok is false for
// any other error.
func Refused(r *contract.Resource, err error) (reason kafkaconn.Reason, message string, ok bool) {
	return kafkaconn.Refusal(r.Origin(), err)
}

// Cached returns a Func that resolves with secrets (Resolve) and parses each Auth Secret once:
// a contract where a thousand Brokers share one Secret parses it, certificates and all, once
// per use of the Func instead of a thousand times, and every resource sharing it gets the same
// Security. Use a new one for each contract applied, so that changed Secrets are read again.
// It is not safe for concurrent use.
func Cached(secrets Secrets) Func {
	type result struct {
		sec *kafkaconn.Security
		err error
	}
	byAuth := map[contract.SecretRef]result{}
	return func(r *contract.Resource) (*kafkaconn.Security, error) {
		if r.Auth == nil || r.Net != nil {
			return Resolve(secrets, r)
		}
		if res, ok := byAuth[*r.Auth]; ok {
			return res.sec, res.err
		}
		sec, err := Resolve(secrets, r)
		byAuth[*r.Auth] = result{sec, err}
		return sec, err
	}
}
