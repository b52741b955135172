package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The Kafka broker's side of the figures: its JVM's CPU time, the bytes it sent to consumers, and
// the TCP connections a process holds to it. All three are read from outside the processes
// measured: /proc for CPU and sockets, the broker's own JMX counters (through Kafka's JmxTool) for
// bytes. They need the private Kafka the run starts; against an external one (BENCH_BOOTSTRAP)
// CPU and bytes are unknown and reported as such.

// brokerPids reads the pids hack/kafka.sh recorded for the nodes under runDir.
func brokerPids(runDir string) ([]int, error) {
	files, err := filepath.Glob(filepath.Join(runDir, "node-*", "pid"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", f, err)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no node pid files under %s", runDir)
	}
	return pids, nil
}

// brokerCPU is the CPU time all broker JVMs used so far; ok is false when the broker is not
// ours to watch.
func (k *kafka) brokerCPU() (secs float64, ok bool) {
	if len(k.pids) == 0 {
		return 0, false
	}
	for _, pid := range k.pids {
		c, err := cpuSeconds(pid)
		if err != nil {
			return 0, false
		}
		secs += c
	}
	return secs, true
}

// brokerUsage measures the broker's CPU between two points, as usage does for our processes.
type brokerUsage struct {
	k    *kafka
	cpu0 float64
	ok   bool
}

func (k *kafka) startUsage() brokerUsage {
	c, ok := k.brokerCPU()
	return brokerUsage{k: k, cpu0: c, ok: ok}
}

// stop returns the broker's CPU seconds since start, or -1 when they are unknown.
func (u brokerUsage) stop() float64 {
	c, ok := u.k.brokerCPU()
	if !u.ok || !ok {
		return -1
	}
	return round(c-u.cpu0, 2)
}

// bytesOutMetric is the broker's count of record bytes it returned in fetch responses to
// consumers, summed over topics (replication is not in it, and a single node has none).
const bytesOutMetric = "kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec"

// bytesOut reads bytesOutMetric's running total from every node with Kafka's JmxTool.
func (k *kafka) bytesOut(ctx context.Context) (int64, error) {
	counts, err := k.jmxCounts(ctx, bytesOutMetric)
	if err != nil {
		return 0, err
	}
	v, ok := counts[bytesOutMetric]
	if !ok {
		return 0, fmt.Errorf("no %s count", bytesOutMetric)
	}
	return v, nil
}

// requestsMetric is the broker's count of requests it received, one MBean per API key and
// version (kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Fetch,version=16).
const requestsMetric = "kafka.network:type=RequestMetrics,name=RequestsPerSec"

// requestCounts reads how many requests of each API key (Produce, Fetch, OffsetCommit, ...) every
// node has received so far, summed over versions and nodes.
func (k *kafka) requestCounts(ctx context.Context) (map[string]int64, error) {
	counts, err := k.jmxCounts(ctx, requestsMetric+",request=*,version=*")
	if err != nil {
		return nil, err
	}
	return requestsByKey(counts), nil
}

// requestsByKey sums the RequestsPerSec counts of JmxTool's answer by their request tag.
func requestsByKey(counts map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for name, v := range counts {
		rest, ok := strings.CutPrefix(name, requestsMetric+",")
		if !ok {
			continue
		}
		for _, tag := range strings.Split(rest, ",") {
			// FetchConsumer and FetchFollower are the Fetch requests again, split by sender.
			if key, ok := strings.CutPrefix(tag, "request="); ok && key != "FetchConsumer" && key != "FetchFollower" {
				out[key] += v
			}
		}
	}
	return out
}

// requestDelta is after − before per API key, leaving out keys that did not change.
func requestDelta(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for key, v := range after {
		if n := v - before[key]; n > 0 {
			d[key] = n
		}
	}
	return d
}

// jmxCounts reads the Count attribute of every MBean matching pattern (an ObjectName, possibly
// with wildcards) from every node with Kafka's JmxTool, summed over nodes by object name.
func (k *kafka) jmxCounts(ctx context.Context, pattern string) (map[string]int64, error) {
	if len(k.jmxPorts) == 0 {
		return nil, fmt.Errorf("the broker's JMX is not open (external Kafka)")
	}
	total := map[string]int64{}
	for _, port := range k.jmxPorts {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		cmd := exec.CommandContext(ctx, "bash", k.script, "tool", "org.apache.kafka.tools.JmxTool",
			"--jmx-url", "service:jmx:rmi:///jndi/rmi://127.0.0.1:"+port+"/jmxrmi",
			"--object-name", pattern, "--attributes", "Count", "--one-time", "true", "--report-format", "properties")
		cmd.Env = k.env()
		out, err := cmd.Output()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("JmxTool on port %s: %w", port, err)
		}
		counts, err := parseJmxCounts(string(out))
		if err != nil {
			return nil, fmt.Errorf("JmxTool on port %s: %w", port, err)
		}
		for name, v := range counts {
			total[name] += v
		}
	}
	return total, nil
}

// parseJmxCount finds "<bytesOutMetric>:Count=<n>" in JmxTool's properties output.
func parseJmxCount(out string) (int64, error) {
	counts, err := parseJmxCounts(out)
	if err != nil {
		return 0, err
	}
	v, ok := counts[bytesOutMetric]
	if !ok {
		return 0, fmt.Errorf("no %s count in %q", bytesOutMetric, out)
	}
	return v, nil
}

// parseJmxCounts reads every "<object name>:Count=<n>" line of JmxTool's properties output.
func parseJmxCounts(out string) (map[string]int64, error) {
	counts := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":Count=")
		if !ok {
			continue
		}
		// The tool prints its "Trying to connect" notice right after the value, without a newline.
		if i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != 'E' && r != '-' }); i >= 0 {
			v = v[:i]
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", sc.Text(), err)
		}
		counts[name] = int64(f)
	}
	return counts, sc.Err()
}

// kafkaConns counts the established TCP connections process pid holds to any of ports: the
// sockets among its file descriptors whose remote end is one of them in /proc/<pid>/net/tcp{,6}.
func kafkaConns(pid int, ports map[int]bool) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			if table == "tcp6" {
				continue
			}
			return 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "01" || !inodes[fs[9]] {
				continue
			}
			_, portHex, ok := strings.Cut(fs[2], ":")
			if !ok {
				continue
			}
			if port, err := strconv.ParseInt(portHex, 16, 32); err == nil && ports[int(port)] {
				n++
			}
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// listenerPorts are the ports of the bootstrap servers.
func (k *kafka) listenerPorts() map[int]bool {
	ports := map[int]bool{}
	for _, s := range k.servers {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			if p, err := strconv.Atoi(s[i+1:]); err == nil {
				ports[p] = true
			}
		}
	}
	return ports
}

// perCPUSecondInclBroker is events per CPU-second over ours plus the broker's, or 0 when the
// broker's is unknown.
func perCPUSecondInclBroker(events, ours, broker float64) float64 {
	if broker < 0 {
		return 0
	}
	return perSecond(events, ours+broker)
}
