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
func Split(c *Contract, maxBytes int) (Index, []Shard, error) {
	var shards []Shard
	var cur []Resource
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		data, err := compress(&Contract{SchemaVersion: SchemaVersion, Generation: c.Generation, Resources: cur})
		if err != nil {
			return err
		}
		shards = append(shards, Shard{Number: len(shards), Generation: c.Generation, Data: data})
		cur = nil
		return nil
	}
	fits := func(rs []Resource) (bool, error) {
		data, err := compress(&Contract{SchemaVersion: SchemaVersion, Generation: c.Generation, Resources: rs})
		return len(data) <= maxBytes, err
	}
	for _, r := range c.Resources {
		ok, err := fits(append(cur[:len(cur):len(cur)], r))
		if err != nil {
			return Index{}, nil, err
		}
		if ok {
			cur = append(cur, r)
			continue
		}
		if err := flush(); err != nil {
			return Index{}, nil, err
		}
		if ok, err := fits([]Resource{r}); err != nil {
			return Index{}, nil, err
		} else if ok {
			cur = []Resource{r}
			continue
		}
		// The resource alone is too large: spread its egresses over as many shards as needed.
		parts, err := splitEgresses(r, maxBytes, fits)
		if err != nil {
			return Index{}, nil, err
		}
		for _, p := range parts {
			cur = []Resource{p}
			if err := flush(); err != nil {
				return Index{}, nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return Index{}, nil, err
	}
	return Index{SchemaVersion: SchemaVersion, Generation: c.Generation, Shards: len(shards)}, shards, nil
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
