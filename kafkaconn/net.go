package kafkaconn

import (
	"slices"
)

// KeyRef names one key of a Secret in the KafkaSource's namespace, as a secretKeyRef does. The
// zero KeyRef (no Secret) references nothing.
type KeyRef struct {
	Secret string `json:"secret,omitempty"`
	Key    string `json:"key,omitempty"`
}

// Net is a KafkaSource's spec.net reduced to references: it holds no secret material, so it
// may travel in the contract, and the data plane need not import the control plane's API
// types to use it.
type Net struct {
	SASL NetSASL `json:"sasl,omitempty"`
	TLS  NetTLS  `json:"tls,omitempty"`
}

// NetSASL is spec.net.sasl.
type NetSASL struct {
	Enable   bool   `json:"enable,omitempty"`
	User     KeyRef `json:"user,omitempty"`
	Password KeyRef `json:"password,omitempty"`
	// Type is the SASL mechanism; PLAIN when it references nothing.
	Type KeyRef `json:"type,omitempty"`
}

// NetTLS is spec.net.tls.
type NetTLS struct {
	Enable bool   `json:"enable,omitempty"`
	Cert   KeyRef `json:"cert,omitempty"`
	Key    KeyRef `json:"key,omitempty"`
	CACert KeyRef `json:"caCert,omitempty"`
}

// refs lists n's references with the spec field each comes from.
func (n Net) refs() []struct {
	spec string
	ref  KeyRef
} {
	return []struct {
		spec string
		ref  KeyRef
	}{
		{"net.tls.cert", n.TLS.Cert},
		{"net.tls.key", n.TLS.Key},
		{"net.tls.caCert", n.TLS.CACert},
		{"net.sasl.type", n.SASL.Type},
		{"net.sasl.user", n.SASL.User},
		{"net.sasl.password", n.SASL.Password},
	}
}

// Secrets returns the names of the Secrets n references, sorted, without duplicates: the ones
// to fetch for ParseNet, and the only ones a watch needs to see.
func (n Net) Secrets() []string {
	var names []string
	for _, r := range n.refs() {
		if r.ref.Secret != "" {
			names = append(names, r.ref.Secret)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ParseNet turns a KafkaSource's spec.net into Security, reading each referenced key from
// secrets (Secret name → its data, stringData merged). It follows the incumbent: the protocol
// comes from the two enable flags (SASL_SSL, SASL_PLAINTEXT, SSL or PLAINTEXT); every
// reference, enabled or not, must name an existing Secret and a present, non-empty key; then
// the values are checked like the Secret keys they stand for (type → sasl.mechanism, user,
// password, caCert → ca.crt, cert → user.crt, key → user.key). spec.net has no user.skip, so
// TLS without SASL requires a client certificate, as it does in Knative's Kafka source.
// Errors are *Error naming the field, the Secret and its key.
func ParseNet(n Net, secrets map[string]map[string][]byte) (*Security, error) {
	fields := make(map[string]field, 6)
	for _, r := range n.refs() {
		f := field{spec: r.spec}
		if r.ref.Secret != "" {
			f.secret, f.key = r.ref.Secret, r.ref.Key
			data, ok := secrets[r.ref.Secret]
			if !ok {
				return nil, &Error{Reason: ReasonSecretNotFound, Field: r.spec, Secret: r.ref.Secret, detail: "secret not found"}
			}
			v := data[r.ref.Key]
			if len(v) == 0 {
				return nil, f.err(ReasonSecretKeyMissing, "key is missing or empty")
			}
			f.value, f.present = v, true
		}
		fields[r.spec] = f
	}
	p := Plaintext
	switch {
	case n.SASL.Enable && n.TLS.Enable:
		p = SASLSSL
	case n.SASL.Enable:
		p = SASLPlaintext
	case n.TLS.Enable:
		p = SSL
	}
	return build(settings{
		protocol:    field{value: []byte(p), present: true, spec: "net"},
		mechanism:   fields["net.sasl.type"],
		user:        fields["net.sasl.user"],
		password:    fields["net.sasl.password"],
		ca:          fields["net.tls.caCert"],
		cert:        fields["net.tls.cert"],
		key:         fields["net.tls.key"],
		missingHint: "; spec.net has no way to go without one",
	})
}
