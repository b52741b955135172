package kafkaconn

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// leak marks every value in the Secrets below; no error, String or log may contain it.
const leak = "LEAKED7c1e"

// leaky returns a value carrying the marker.
func leaky(key string) string { return leak + "-" + key }

// leakySecrets reach every error path with the marker in every value, including PEM text
// around and inside blocks (block types, headers, bodies).
func leakySecrets(t *testing.T) map[string]secret {
	p := newPKI(t)
	crt, key := string(p.client.certPEM), string(p.client.keyPEM)
	around := func(pemText string) string { return leaky("before") + "\n" + pemText + leaky("after") + "\n" }
	block := func(typ string) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: map[string]string{"X": leaky("header")}, Bytes: []byte(leaky("body"))}))
	}
	creds := func(s secret) secret {
		s["user"], s["password"], s["username"] = leaky("user"), leaky("password"), leaky("username")
		return s
	}
	return map[string]secret{
		"protocol":                creds(secret{"protocol": leaky("protocol")}),
		"lower-case protocol":     creds(secret{"protocol": "ssl" + leak}),
		"mechanism":               creds(secret{"protocol": "SASL_SSL", "sasl.mechanism": leaky("mechanism")}),
		"legacy mechanism":        creds(secret{"saslType": leaky("saslType"), "sasltype": leaky("sasltype")}),
		"user.skip":               creds(secret{"protocol": "SSL", "user.skip": leaky("skip")}),
		"no client certificate":   creds(secret{"protocol": "SSL", "ca.crt": around(string(p.ca.certPEM))}),
		"ca.crt text":             creds(secret{"protocol": "SASL_SSL", "ca.crt": leaky("ca")}),
		"ca.crt block":            creds(secret{"protocol": "SASL_SSL", "ca.crt": around(block("CERTIFICATE"))}),
		"ca.crt odd block type":   creds(secret{"protocol": "SASL_SSL", "ca.crt": block(leaky("TYPE"))}),
		"user.crt block":          creds(secret{"protocol": "SSL", "user.crt": around(block("CERTIFICATE")), "user.key": key}),
		"user.key text":           creds(secret{"protocol": "SSL", "user.crt": crt, "user.key": leaky("key")}),
		"user.key block":          creds(secret{"protocol": "SSL", "user.crt": crt, "user.key": around(block("PRIVATE KEY"))}),
		"user.key odd block type": creds(secret{"protocol": "SSL", "user.crt": crt, "user.key": block(leaky("X") + " PRIVATE KEY")}),
		"user.key encrypted":      creds(secret{"protocol": "SSL", "user.crt": crt, "user.key": block("ENCRYPTED PRIVATE KEY")}),
		"user.key mismatched":     creds(secret{"protocol": "SSL", "user.crt": crt, "user.key": around(string(p.foreign.keyPEM))}),
		"empty password":          {"protocol": "SASL_PLAINTEXT", "user": leaky("user"), "password": ""},
		"valid SASL_SSL":          creds(secret{"protocol": "SASL_SSL", "ca.crt": around(string(p.ca.certPEM))}),
		"valid mTLS":              creds(secret{"protocol": "SSL", "user.crt": around(crt), "user.key": around(key)}),
	}
}

func TestNoSecretValueInErrorsStringsOrLogs(t *testing.T) {
	var logged strings.Builder
	log := zap.New(zapCoreTo(&logged))
	errs := 0
	for name, s := range leakySecrets(t) {
		sec, err := ParseSecret(s.data())
		var out []string
		if err != nil {
			errs++
			out = append(out, err.Error(), fmt.Sprintf("%v|%+v|%#v|%q", err, err, err, err))
			log.Error("Kafka auth Secret refused", zap.Error(err), zap.Any("detail", err))
		} else {
			out = append(out, sec.String(), Key([]string{"a:9092"}, sec), fmt.Sprintf("%v|%+v|%#v|%s", sec, sec, sec, sec))
			log.Info("Kafka settings", zap.Stringer("security", sec), zap.Any("any", sec), zap.Reflect("reflect", sec))
		}
		for _, o := range out {
			if strings.Contains(o, leak) || strings.Contains(o, "password") && strings.Contains(o, leaky("password")) {
				t.Errorf("%s: output contains a Secret value: %s", name, o)
			}
		}
	}
	if errs < 10 {
		t.Fatalf("only %d of the Secrets were refused; the table no longer reaches the error paths", errs)
	}
	for _, form := range []string{leak, base64.StdEncoding.EncodeToString([]byte(leak))[:12]} {
		if strings.Contains(logged.String(), form) {
			t.Errorf("the log contains a Secret value:\n%s", logged.String())
		}
	}
}

func TestNoSecretValueInNetErrors(t *testing.T) {
	secrets := map[string]map[string][]byte{"s": {"u": []byte(leaky("user")), "p": []byte(leaky("password")), "t": []byte(leaky("type")), "ca": []byte(leaky("ca"))}}
	for name, n := range map[string]Net{
		"type": {SASL: NetSASL{Enable: true, User: KeyRef{"s", "u"}, Password: KeyRef{"s", "p"}, Type: KeyRef{"s", "t"}}},
		"ca":   {SASL: NetSASL{Enable: true, User: KeyRef{"s", "u"}, Password: KeyRef{"s", "p"}}, TLS: NetTLS{Enable: true, CACert: KeyRef{"s", "ca"}}},
		"key":  {TLS: NetTLS{Enable: true, Cert: KeyRef{"s", "ca"}, Key: KeyRef{"s", "p"}}},
	} {
		_, err := ParseNet(n, secrets)
		if err == nil {
			t.Fatalf("%s: ParseNet accepted values that are not valid", name)
		}
		if strings.Contains(err.Error(), leak) {
			t.Errorf("%s: error contains a Secret value: %v", name, err)
		}
	}
}
