package kafkaconn

import (
	"errors"
	"strings"
	"testing"
)

// fuzzKeys are the keys FuzzParseSecret may set; bit i of the mask sets fuzzKeys[i].
var fuzzKeys = []string{
	KeyProtocol, KeySASLMechanism, KeyUser, KeyPassword, KeyCACert, KeyUserCert, KeyUserKey,
	KeyUserSkip, KeyLegacyUsername, KeyLegacySASLType, KeyLegacySASLTypeLow, KeyLegacyTLSEnabled,
}

// FuzzParseSecret feeds arbitrary Secrets to the parser. It must never panic; an error must be
// an *Error with a Reason naming a key; success must give options that match the protocol;
// and the credentials (user, password, user.key, each marked) never show in errors or String.
func FuzzParseSecret(f *testing.F) {
	p := newPKI(mainFataler{})
	ca, crt, key := string(p.ca.certPEM), string(p.client.certPEM), string(p.client.keyPEM)
	all := uint16(1<<len(fuzzKeys) - 1)
	// Seeds: mask, protocol, mechanism, skip/tls.enabled, user, password, ca.crt, user.crt, user.key.
	f.Add(uint16(0), "", "", "", "", "", "", "", "")
	f.Add(uint16(0b1), "PLAINTEXT", "", "", "", "", "", "", "")
	f.Add(uint16(0b1111), "SASL_PLAINTEXT", "SCRAM-SHA-512", "", "u", "pw", "", "", "")
	f.Add(uint16(0b1101), "SASL_PLAINTEXT", "", "", "u", "pw", "", "", "")
	f.Add(uint16(0b1110011), "SSL", "", "", "", "", ca, crt, key)
	f.Add(uint16(0b10010001), "SSL", "", "true", "", "", ca, "", "")
	f.Add(uint16(0b1111111), "SASL_SSL", "PLAIN", "", "u", "pw", ca, crt, key)
	f.Add(uint16(0b1111111), "SASL_SSL", "OAUTHBEARER", "", "u", "pw", ca, crt, key)
	f.Add(uint16(0b101100001000), "", "SCRAM-SHA-256", "true", "u", "pw", "", "", "")
	f.Add(uint16(0b100000010000), "", "", "true", "", "", ca, "", "")
	f.Add(all, "SSL", "scram-sha-512", "yes", "u", "pw", "junk", crt, ca)
	f.Add(all, "", "GSSAPI", "1", "u", "pw", ca+ca, key, crt)
	f.Fuzz(func(t *testing.T, mask uint16, protocol, mechanism, flag, user, password, caPEM, certPEM, keyPEM string) {
		// The markers let the check below find the credentials; PEM parsing skips text before
		// a block, so marking the key keeps a valid key valid.
		const mark = "\x00MARK\x00"
		values := map[string]string{
			KeyProtocol: protocol, KeySASLMechanism: mechanism, KeyUser: mark + user, KeyPassword: mark + password,
			KeyCACert: caPEM, KeyUserCert: certPEM, KeyUserKey: mark + "\n" + keyPEM, KeyUserSkip: flag,
			KeyLegacyUsername: mark + user, KeyLegacySASLType: mechanism, KeyLegacySASLTypeLow: mechanism, KeyLegacyTLSEnabled: flag,
		}
		data := map[string][]byte{}
		for i, k := range fuzzKeys {
			if mask&(1<<i) != 0 {
				data[k] = []byte(values[k])
			}
		}
		sec, err := ParseSecret(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" || e.Key == "" {
				t.Fatalf("error %q is not an *Error with a reason and a key", err)
			}
			if strings.Contains(err.Error(), "MARK") {
				t.Fatalf("error %q contains a credential", err)
			}
			return
		}
		if strings.Contains(sec.String(), "MARK") || strings.Contains(sec.GoString(), "MARK") {
			t.Fatalf("String %q contains a credential", sec)
		}
		if got, want := len(sec.Opts()), wantOpts(summary{Protocol: sec.Protocol(), Mechanism: sec.Mechanism()}); got != want {
			t.Fatalf("%v: %d options, want %d", sec, got, want)
		}
		if sec.Protocol().usesSASL() != (sec.Mechanism() != "") {
			t.Fatalf("%v: protocol and mechanism disagree", sec)
		}
	})
}
