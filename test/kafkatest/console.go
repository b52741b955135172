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

// ConsoleConsumerClass is the main class of Kafka's kafka-console-consumer.
const ConsoleConsumerClass = "org.apache.kafka.tools.consumer.ConsoleConsumer"

// ConsoleRecord is one record as Kafka's console consumer printed it with print.headers and
// print.key on: header names to values (in the order printed, values as text), the key (nil when
// the record has none) and the value.
type ConsoleRecord struct {
	Headers [][2]string
	Key     *string
	Value   string
}

// Header returns the value of the first header called name, and whether there is one.
func (r ConsoleRecord) Header(name string) (string, bool) {
	for _, h := range r.Headers {
		if h[0] == name {
			return h[1], true
		}
	}
	return "", false
}

// Separators the console consumer is told to print between the parts of a record: strings no
// CloudEvent attribute, key or JSON value of the tests holds, so a line splits back unambiguously.
// Between a header's name and value it always prints ":", which no header name of ours holds.
const (
	consoleField     = "\u241e" // between headers, key and value
	consoleHeader    = "\u241f" // between two headers
	consoleHeaderKV  = ":"      // between a header's name and its value: fixed by the consumer
	consoleNull      = "\u2205" // a missing key
	consoleNoHeaders = "NO_HEADERS"
)

// ConsoleConsume reads the first n records of topic from its start with Kafka's own console
// consumer, as `kafka-console-consumer --from-beginning --property print.headers=true --property
// print.key=true` does, and returns them as it printed them. It fails t unless the consumer read n
// records within its timeout; values must be one line each.
func ConsoleConsume(t testing.TB, servers []string, topic string, n int) []ConsoleRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consoleTimeout)
	defer cancel()
	began := time.Now()
	stdout, stderr, err := RunTool(ctx, "", ConsoleConsumerClass,
		"--bootstrap-server", strings.Join(servers, ","), "--topic", topic,
		"--from-beginning", "--max-messages", fmt.Sprint(n), "--timeout-ms", "60000",
		"--property", "print.headers=true", "--property", "print.key=true",
		"--property", "key.separator="+consoleField, "--property", "headers.separator="+consoleHeader,
		"--property", "null.literal="+consoleNull,
	)
	if err != nil {
		t.Fatalf("kafka-console-consumer (%d records of %s): %v\nstdout:\n%s\nstderr:\n%s", n, topic, err, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if stdout == "" || len(lines) != n {
		t.Fatalf("kafka-console-consumer printed %d lines for %d records of %s:\n%s\nstderr:\n%s", len(lines), n, topic, stdout, stderr)
	}
	records := make([]ConsoleRecord, n)
	for i, line := range lines {
		r, err := parseConsoleLine(line)
		if err != nil {
			t.Fatalf("kafka-console-consumer line %d: %v", i, err)
		}
		records[i] = r
	}
	t.Logf("kafka-console-consumer read %d records of %s in %s", n, topic, time.Since(began).Round(time.Millisecond))
	return records
}

// parseConsoleLine splits a line the console consumer printed: headers, key, value.
func parseConsoleLine(line string) (ConsoleRecord, error) {
	parts := strings.SplitN(line, consoleField, 3)
	if len(parts) != 3 {
		return ConsoleRecord{}, fmt.Errorf("%q is not headers, key and value", line)
	}
	var r ConsoleRecord
	if parts[0] != consoleNoHeaders {
		for _, h := range strings.Split(parts[0], consoleHeader) {
			name, value, ok := strings.Cut(h, consoleHeaderKV)
			if !ok {
				return ConsoleRecord{}, fmt.Errorf("header %q has no value in %q", h, line)
			}
			r.Headers = append(r.Headers, [2]string{name, value})
		}
	}
	if parts[1] != consoleNull {
		key := parts[1]
		r.Key = &key
	}
	r.Value = parts[2]
	return r, nil
}
