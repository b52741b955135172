package kafka

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"

	"knkafka.dev/kafkaconn"
)

// Credentials turns the Secrets an object references into the kafkaconn.Security of its Kafka
// clients: a Broker's or KafkaChannel's auth Secret (Secret) and a KafkaSource's spec.net
// (Net). It is the only place the control plane reads Kafka credentials, so every reconciler
// reports the same Ready reasons for the same Secret.
//
// Its errors are *kafkaconn.Error (use kafkaconn.ReasonOf) naming the Secret and key, never a
// value, except for a failing lister, which is wrapped as it is.
type Credentials struct {
	secrets corelisters.SecretLister
}

// NewCredentials reads Secrets from secrets.
func NewCredentials(secrets corelisters.SecretLister) Credentials {
	return Credentials{secrets: secrets}
}

// Secret returns the Security described by the Secret namespace/name (kafkaconn.ParseSecret);
// nil (PLAINTEXT) when name is empty. A missing Secret is a kafkaconn.ReasonSecretNotFound error;
// the errors of ParseSecret get the Secret's "namespace/name".
func (c Credentials) Secret(namespace, name string) (*kafkaconn.Security, error) {
	if name == "" {
		return nil, nil
	}
	qualified := namespace + "/" + name
	s, err := c.secrets.Secrets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, kafkaconn.SecretNotFound(qualified)
	} else if err != nil {
		return nil, fmt.Errorf("getting secret %s: %w", qualified, err)
	}
	sec, err := kafkaconn.ParseSecret(secretData(s))
	if err != nil {
		var ke *kafkaconn.Error
		if errors.As(err, &ke) {
			// ParseSecret returns a fresh error: naming its Secret changes nobody else's.
			ke.Secret = qualified
		}
		return nil, err
	}
	return sec, nil
}

// Net returns the Security of a KafkaSource's spec.net n, whose Secrets are in namespace
// (kafkaconn.ParseNet); nil (PLAINTEXT) for a nil n. A Secret that does not exist is reported by
// ParseNet with the field that references it.
func (c Credentials) Net(namespace string, n *kafkaconn.Net) (*kafkaconn.Security, error) {
	if n == nil {
		return nil, nil
	}
	names := n.Secrets()
	data := make(map[string]map[string][]byte, len(names))
	for _, name := range names {
		s, err := c.secrets.Secrets(namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("getting secret %s/%s: %w", namespace, name, err)
		}
		data[name] = secretData(s)
	}
	return kafkaconn.ParseNet(*n, data)
}

// secretData is s.Data with s.StringData merged over it, as the API server stores them (objects
// read from the API server have no StringData; objects built in tests and local mode may).
func secretData(s *corev1.Secret) map[string][]byte {
	if len(s.StringData) == 0 {
		return s.Data
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data
}
