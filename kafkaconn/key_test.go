package kafkaconn

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServers(t *testing.T) {
	got := Servers([]string{" b:9092", "a:9092", "", "b:9092 ", "  "})
	if diff := cmp.Diff([]string{"a:9092", "b:9092"}, got); diff != "" {
		t.Errorf("Servers (-want +got):\n%s", diff)
	}
}

func TestOpts(t *testing.T) {
	if _, err := Opts([]string{" ", ""}, nil); err != ErrNoServers {
		t.Errorf("Opts without servers: err = %v, want ErrNoServers", err)
	}
	sec := mustParse(t, secret{"protocol": "SASL_SSL", "user": "u", "password": "pw"})
	opts, err := Opts([]string{"a:9092"}, sec)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 3 { // seeds, TLS, SASL
		t.Errorf("Opts has %d options, want 3", len(opts))
	}
}

func mustParse(t *testing.T, s secret) *Security {
	t.Helper()
	sec, err := ParseSecret(s.data())
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return sec
}

func TestKey(t *testing.T) {
	p := newPKI(t)
	ca, crt, key := string(p.ca.certPEM), string(p.client.certPEM), string(p.client.keyPEM)
	servers := []string{"b:9092", "a:9092"}
	scram := secret{"protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "pw", "ca.crt": ca}
	with := func(s secret, kv ...string) secret {
		out := secret{}
		for k, v := range s {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	base := Key(servers, mustParse(t, scram))

	t.Run("plaintext is the servers, however written", func(t *testing.T) {
		for _, sec := range []*Security{nil, mustParse(t, secret{}), mustParse(t, secret{"protocol": "PLAINTEXT", "user": "x"})} {
			if got := Key([]string{" b:9092", "a:9092", "a:9092"}, sec); got != "a:9092,b:9092" {
				t.Errorf("Key(%v) = %q, want a:9092,b:9092", sec, got)
			}
		}
	})
	t.Run("the same settings give the same key", func(t *testing.T) {
		same := map[string]*Security{
			"parsed again":                mustParse(t, scram),
			"servers reordered":           mustParse(t, scram),
			"an unrelated key added":      mustParse(t, with(scram, "user.p12", "blob", "sasl.jaas.config", "x")),
			"keys SASL_SSL does not read": mustParse(t, with(scram, "user.skip", "true", "username", "v")),
		}
		for name, sec := range same {
			srv := servers
			if name == "servers reordered" {
				srv = []string{"a:9092", " b:9092"}
			}
			if got := Key(srv, sec); got != base {
				t.Errorf("%s: Key = %q, want %q", name, got, base)
			}
		}
	})
	t.Run("the legacy and net forms key like the Secret form", func(t *testing.T) {
		legacy := mustParse(t, secret{"username": "u", "password": "pw", "saslType": "SCRAM-SHA-512", "ca.crt": ca})
		net, err := ParseNet(Net{
			SASL: NetSASL{Enable: true, User: KeyRef{"s", "u"}, Password: KeyRef{"s", "p"}, Type: KeyRef{"s", "m"}},
			TLS:  NetTLS{Enable: true, CACert: KeyRef{"t", "ca"}},
		}, map[string]map[string][]byte{
			"s": {"u": []byte("u"), "p": []byte("pw"), "m": []byte("SCRAM-SHA-512")},
			"t": {"ca": []byte(ca)},
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, sec := range map[string]*Security{"legacy": legacy, "net": net} {
			if got := Key(servers, sec); got != base {
				t.Errorf("%s: Key = %q, want %q", name, got, base)
			}
		}
	})
	t.Run("any change of servers or credentials gives a new key", func(t *testing.T) {
		keys := map[string]string{"base": base}
		add := func(name, k string) {
			for other, ok := range keys {
				if ok == k {
					t.Errorf("%s has the key of %s: %q", name, other, k)
				}
			}
			keys[name] = k
		}
		add("another server", Key([]string{"a:9092"}, mustParse(t, scram)))
		add("password", Key(servers, mustParse(t, with(scram, "password", "pw2"))))
		add("user", Key(servers, mustParse(t, with(scram, "user", "v"))))
		add("mechanism", Key(servers, mustParse(t, with(scram, "sasl.mechanism", "SCRAM-SHA-256"))))
		add("CA", Key(servers, mustParse(t, with(scram, "ca.crt", string(p.otherCA.certPEM)))))
		add("system roots", Key(servers, mustParse(t, secret{"protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "pw"})))
		add("client certificate", Key(servers, mustParse(t, with(scram, "user.crt", crt, "user.key", key))))
		add("protocol", Key(servers, mustParse(t, secret{"protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "user": "u", "password": "pw"})))
		add("user and password run together", Key(servers, mustParse(t, with(scram, "user", "up", "password", "w"))))
		mtls := secret{"protocol": "SSL", "user.crt": crt, "user.key": key}
		add("SSL", Key(servers, mustParse(t, mtls)))
		add("another client certificate", Key(servers, mustParse(t, with(mtls, "user.crt", string(p.rsaClient.certPEM), "user.key", string(p.rsaClient.keyPEM)))))
	})
	t.Run("the key holds no credential", func(t *testing.T) {
		k := Key(servers, mustParse(t, with(scram, "user", "user-4f1c9", "password", "pass-8e2d7")))
		if strings.Contains(k, "user-4f1c9") || strings.Contains(k, "pass-8e2d7") {
			t.Errorf("Key %q contains a credential", k)
		}
	})
}
