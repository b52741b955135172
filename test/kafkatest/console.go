package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ConsoleProducerClass is the main class of Kafka's kafka-console-producer (bin/ runs it through
// kafka-run-class.sh), in the same Maven jars hack/kafka.sh runs the broker from.
const ConsoleProducerClass = "kafka.tools.ConsoleProducer"

// consoleTimeout bounds one run of the console producer: a JVM start (seconds on a busy machine)
// and a few records, or its own 30 s wait for a topic that does not exist.
const consoleTimeout = 2 * time.Minute

// KeyedLine is a record for ConsoleProduceKeyed: the console producer reads it as one line,
// Key, the separator, Value.
type KeyedLine struct{ Key, Value string }

// ConsoleProduce writes one record per value to topic with Kafka's own console producer, as a user
// typing into kafka-console-producer would: values on stdin, one a line, without keys. It fails t
// unless the producer exits 0, which with --sync means Kafka acknowledged every record (acks=all).
func ConsoleProduce(t testing.TB, servers []string, topic string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			t.Fatalf("console producer: value %q has a line break; the producer reads one record a line", v)
		}
	}
	runConsole(t, servers, topic, nil, values)
}

// ConsoleProduceKeyed writes keyed records to topic with Kafka's console producer, as
// `kafka-console-producer --property parse.key=true --property key.separator=<separator>` does:
// each line is key, separator, value. It fails t unless the producer exits 0.
func ConsoleProduceKeyed(t testing.TB, servers []string, topic, separator string, records ...KeyedLine) {
	t.Helper()
	if separator == "" {
		t.Fatal("console producer: an empty key separator")
	}
	lines := make([]string, len(records))
	for i, r := range records {
		if strings.Contains(r.Key, separator) || strings.ContainsAny(r.Key+r.Value, "\r\n") {
			t.Fatalf("console producer: record %+v cannot be one line with the key separator %q", r, separator)
		}
		lines[i] = r.Key + separator + r.Value
	}
	runConsole(t, servers, topic, []string{"--property", "parse.key=true", "--property", "key.separator=" + separator}, lines)
}

func runConsole(t testing.TB, servers []string, topic string, props, lines []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consoleTimeout)
	defer cancel()
	began := time.Now()
	stdout, stderr, err := RunTool(ctx, strings.Join(lines, "\n")+"\n", ConsoleProducerClass, append([]string{
		"--bootstrap-server", strings.Join(servers, ","), "--topic", topic,
		// Wait for each record's acknowledgement, so a record Kafka refused makes the producer exit
		// non-zero instead of only logging it; give up on a missing topic well within our timeout.
		// linger.ms=0: the console producer lingers 1 s by default (its --timeout), which --sync
		// pays on every record — a second a line, where the lines should reach Kafka in a burst.
		"--sync", "--producer-property", "acks=all", "--producer-property", "max.block.ms=30000",
		"--producer-property", "linger.ms=0",
	}, props...)...)
	if err != nil {
		t.Fatalf("kafka-console-producer (%d lines to %s): %v\nstdout:\n%s\nstderr:\n%s", len(lines), topic, err, stdout, stderr)
	}
	t.Logf("kafka-console-producer wrote %d records to %s in %s", len(lines), topic, time.Since(began).Round(time.Millisecond))
}

// RunTool runs one of Kafka's command-line tools by main class (hack/kafka.sh tool), with stdin as
// its input, until it exits or ctx ends, and returns what it printed. The error says how it ended
// when it did not exit 0.
func RunTool(ctx context.Context, stdin, class string, args ...string) (stdout, stderr string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", fmt.Errorf("finding hack/kafka.sh: %w", err)
	}
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "hack", "kafka.sh"), "tool", class}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// hack/kafka.sh execs java, so killing cmd kills the tool; WaitDelay stops Wait from hanging
	// on pipes held by anything else.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish: %w (%v)", class, ctx.Err(), err)
	} else if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		err = fmt.Errorf("%s exited with %d", class, ee.ExitCode())
	}
	return out.String(), errOut.String(), err
}
