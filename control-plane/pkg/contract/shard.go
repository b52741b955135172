package contract

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// A contract is published as an Index plus shards, so that it can outgrow one ConfigMap (1 MiB).
// Each shard holds whole resources, or — for a resource with very many egresses — a resource with a
// slice of its egresses; Assemble joins the slices again. Shards are gzip-compressed JSON. The index
// names the generation and the shard count; the data plane applies a contract only once every
// shard of the index's generation has arrived, so it never runs a mix of two generations.

// Index is the small document that says which shards make up a contract generation.
type Index struct {
	SchemaVersion int    `json:"schemaVersion"`
	Generation    uint64 `json:"generation"`
	Shards        int    `json:"shards"`
}

// Shard is one compressed part of a contract.
type Shard struct {
	// Number is the shard's position, from 0.
	Number int
	// Generation is the contract generation the shard belongs to.
	Generation uint64
	// Data is gzip-compressed JSON of a Contract holding this shard's resources.
	Data []byte
}

// ShardName is the ConfigMap name of shard n of the contract ConfigMap named base.
func ShardName(base string, n int) string { return base + "-" + strconv.Itoa(n) }

// Split cuts c into shards whose Data is at most maxBytes each. A single egress larger than
// maxBytes is an error.
//
// The work is linear in the size of the contract (re-compressing a growing shard for every
// resource added made 3,000 channels take 16 s per publication): resources are packed greedily
// by their JSON size against a budget scaled by the whole contract's compression ratio, with a
// 10% margin, and each shard is then compressed once and checked; a group that still does not
// fit is halved.
func Split(c *Contract, maxBytes int) (Index, []Shard, error) {
	sizes := make([]int, len(c.Resources))
	total := 0
	for i := range c.Resources {
		b, err := json.Marshal(&c.Resources[i])
		if err != nil {
			return Index{}, nil, fmt.Errorf("encoding contract resource: %w", err)
		}
		sizes[i] = len(b)
		total += len(b)
	}
	budget := maxBytes
	if whole, err := compressedSize(c.Generation, c.Resources); err != nil {
		return Index{}, nil, err
	} else if whole > 0 {
		budget = int(float64(maxBytes) * float64(total) / float64(whole) * 0.9)
	}

	var groups [][]Resource
	var cur []Resource
	curSize := 0
	for i, r := range c.Resources {
		if sizes[i] > budget {
			if n, err := compressedSize(c.Generation, []Resource{r}); err != nil {
				return Index{}, nil, err
			} else if n > maxBytes {
				// The resource alone is too large: spread its egresses over several shards.
				parts, err := splitEgresses(r, maxBytes, func(rs []Resource) (bool, error) {
					n, err := compressedSize(c.Generation, rs)
					return n <= maxBytes, err
				})
				if err != nil {
					return Index{}, nil, err
				}
				for _, p := range parts {
					groups = append(groups, []Resource{p})
				}
				continue
			}
		}
		if curSize+sizes[i] > budget && len(cur) > 0 {
			groups = append(groups, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, r)
		curSize += sizes[i]
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	var shards []Shard
	for len(groups) > 0 {
		g := groups[0]
		groups = groups[1:]
		data, err := compress(&Contract{SchemaVersion: SchemaVersion, Generation: c.Generation, Resources: g})
		if err != nil {
			return Index{}, nil, err
		}
		if len(data) > maxBytes && len(g) > 1 {
			half := len(g) / 2
			groups = append([][]Resource{g[:half], g[half:]}, groups...)
			continue
		}
		shards = append(shards, Shard{Number: len(shards), Generation: c.Generation, Data: data})
	}
	return Index{SchemaVersion: SchemaVersion, Generation: c.Generation, Shards: len(shards)}, shards, nil
}

func compressedSize(gen uint64, rs []Resource) (int, error) {
	data, err := compress(&Contract{SchemaVersion: SchemaVersion, Generation: gen, Resources: rs})
	return len(data), err
}

// splitEgresses cuts r into copies that each carry a run of its egresses and fit maxBytes.
func splitEgresses(r Resource, maxBytes int, fits func([]Resource) (bool, error)) ([]Resource, error) {
	var parts []Resource
	egs := r.Egresses
	for len(egs) > 0 {
		// Binary search for the longest prefix of egs that fits.
		lo, hi := 1, len(egs)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			p := r
			p.Egresses = egs[:mid]
			ok, err := fits([]Resource{p})
			if err != nil {
				return nil, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		p := r
		p.Egresses = egs[:lo]
		if ok, err := fits([]Resource{p}); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("egress %s/%s of resource %s/%s does not fit in %d bytes",
				egs[0].Namespace, egs[0].Name, r.Namespace, r.Name, maxBytes)
		}
		parts = append(parts, p)
		egs = egs[lo:]
	}
	return parts, nil
}

// Assemble rebuilds the contract of idx from its shards. It fails when a shard is missing or
// belongs to another generation, so the caller keeps its current contract and waits.
func Assemble(idx Index, shards []Shard) (*Contract, error) {
	if idx.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("contract schema version %d is newer than this data plane's %d", idx.SchemaVersion, SchemaVersion)
	}
	byNumber := make(map[int]Shard, len(shards))
	for _, s := range shards {
		if s.Generation == idx.Generation {
			byNumber[s.Number] = s
		}
	}
	out := &Contract{SchemaVersion: SchemaVersion, Generation: idx.Generation}
	pos := map[string]int{}
	for n := 0; n < idx.Shards; n++ {
		s, ok := byNumber[n]
		if !ok {
			return nil, fmt.Errorf("shard %d of generation %d is missing", n, idx.Generation)
		}
		part, err := decompress(s.Data)
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", n, err)
		}
		for _, r := range part.Resources {
			if i, ok := pos[r.UID]; ok {
				out.Resources[i].Egresses = append(out.Resources[i].Egresses, r.Egresses...)
				continue
			}
			pos[r.UID] = len(out.Resources)
			out.Resources = append(out.Resources, r)
		}
	}
	sort.Slice(out.Resources, func(i, j int) bool { return out.Resources[i].UID < out.Resources[j].UID })
	return out, nil
}

func compress(c *Contract) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(c); err != nil {
		return nil, fmt.Errorf("encoding contract shard: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing contract shard: %w", err)
	}
	return buf.Bytes(), nil
}

func decompress(data []byte) (*Contract, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("opening compressed contract: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("decompressing contract: %w", err)
	}
	return Unmarshal(b)
}

// Where the control plane publishes the contract in Kubernetes: an index ConfigMap named
// ConfigMapName and shard ConfigMaps ShardName(ConfigMapName, n), all in the system namespace and
// labelled ConfigMapLabel=true so the data plane can watch just them.
const (
	ConfigMapName  = "knkafka-contract"
	ConfigMapLabel = "knkafka.dev/contract"
	// IndexKey is the data key of the index ConfigMap: the Index as JSON.
	IndexKey = "index.json"
	// ShardKey is the binaryData key of a shard ConfigMap: the shard's gzip-compressed JSON.
	ShardKey = "contract.json.gz"
	// ShardGenerationKey is the data key of a shard ConfigMap that holds its generation.
	ShardGenerationKey = "generation"
)
