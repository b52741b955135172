package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// MicroBenchmark is one `go test -bench` result line.
type MicroBenchmark struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	Iterations  int64   `json:"iterations"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	// Extra holds custom metrics (b.ReportMetric) by unit.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// parseMicro reads the text output of `go test -bench -benchmem`.
func parseMicro(path string) ([]MicroBenchmark, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []MicroBenchmark
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(v)
			continue
		}
		if b, ok := parseMicroLine(line); ok {
			b.Package = pkg
			out = append(out, b)
		}
	}
	return out, sc.Err()
}

// parseMicroLine parses "BenchmarkX-2  1000  123 ns/op  45 B/op  2 allocs/op [v unit ...]".
func parseMicroLine(line string) (MicroBenchmark, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return MicroBenchmark{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return MicroBenchmark{}, false
	}
	b := MicroBenchmark{Name: f[0], Iterations: n}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return MicroBenchmark{}, false
		}
		switch unit := f[i+1]; unit {
		case "ns/op":
			b.NsPerOp = v
		case "B/op":
			b.BytesPerOp = v
		case "allocs/op":
			b.AllocsPerOp = v
		default:
			if b.Extra == nil {
				b.Extra = map[string]float64{}
			}
			b.Extra[unit] = v
		}
	}
	return b, true
}
