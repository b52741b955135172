package secrettest

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest/observer"
	"k8s.io/client-go/tools/record"
)

// Events returns the events recorder has recorded so far, one a line, and empties it.
func Events(recorder *record.FakeRecorder) string {
	var b strings.Builder
	for {
		select {
		case e := <-recorder.Events:
			b.WriteString(e + "\n")
		default:
			return b.String()
		}
	}
}

// Logs returns every observed log entry with its logger, message and fields, one a line.
func Logs(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "%s %s %v\n", e.LoggerName, e.Message, e.ContextMap())
	}
	return b.String()
}

// NoLeak fails t for every output (what it is → its text) that contains one of values: the
// distinctive values a test put into Secrets, which nothing a reconciler writes may show.
func NoLeak(t *testing.T, outputs map[string]string, values []string) {
	t.Helper()
	for what, text := range outputs {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("%s contains the Secret value %q:\n%s", what, v, text)
			}
		}
	}
}
