package kafkatest

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FakeSASL starts an in-process kfake cluster that requires SASL PLAIN, with users (name →
// password) as superusers, and returns its bootstrap servers. A wrong PLAIN password is answered
// as Apache Kafka answers it — a SASLAuthenticate response with SASL_AUTHENTICATION_FAILED —
// where kfake alone would just close the connection, so a client sees kerr.SaslAuthenticationFailed
// and kafkaconn.ReasonOf classifies it.
func FakeSASL(t testing.TB, users map[string]string, opts ...kfake.Opt) []string {
	t.Helper()
	base := []kfake.Opt{kfake.NumBrokers(1), kfake.EnableSASL()}
	for user, pass := range users {
		base = append(base, kfake.Superuser("PLAIN", user, pass))
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		parts := bytes.Split(r.SASLAuthBytes, []byte{0}) // PLAIN: authzid NUL user NUL password
		if len(parts) != 3 {
			return nil, nil, false
		}
		if pass, ok := users[string(parts[1])]; ok && pass == string(parts[2]) {
			return nil, nil, false // kfake authenticates it
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	return c.ListenAddrs()
}
