// Package dataplanestatus reads what the data plane really serves: Reader asks every data-plane
// instance for its contract.Status and merges the answers, so a reconciler marks an object Ready
// only when every instance that runs the role has applied its generation and serves it.
package dataplanestatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// Endpoints lists the base URLs ("http://10.0.0.7:9090") of the data-plane instances.
type Endpoints func(ctx context.Context) ([]string, error)

// Static lists fixed base URLs (local mode, tests, or a data plane outside the cluster).
func Static(urls ...string) Endpoints {
	return func(context.Context) ([]string, error) { return urls, nil }
}

// Reader merges the status of all data-plane instances, caching the result briefly so that
// thousands of reconciles do not each ask every instance.
type Reader struct {
	endpoints Endpoints
	client    *http.Client
	ttl       time.Duration

	mu      sync.Mutex
	at      time.Time
	cached  contract.Status
	lastErr error
}

// NewReader reads from the instances endpoints lists; results are reused for ttl (100ms when zero).
func NewReader(endpoints Endpoints, ttl time.Duration) *Reader {
	if ttl <= 0 {
		ttl = 100 * time.Millisecond
	}
	return &Reader{endpoints: endpoints, ttl: ttl, client: &http.Client{Timeout: 5 * time.Second}}
}

// Status returns the merged status. Its Generation is the lowest any instance applied. An
// ingress or egress is Ready only when every instance running that role reports it Ready.
func (r *Reader) Status(ctx context.Context) (contract.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < r.ttl {
		return r.cached, r.lastErr
	}
	r.cached, r.lastErr = r.read(ctx)
	r.at = time.Now()
	return r.cached, r.lastErr
}

func (r *Reader) read(ctx context.Context) (contract.Status, error) {
	urls, err := r.endpoints(ctx)
	if err != nil {
		return contract.Status{}, fmt.Errorf("listing data-plane instances: %w", err)
	}
	if len(urls) == 0 {
		return contract.Status{}, errors.New("no data-plane instance is running")
	}
	statuses := make([]contract.Status, len(urls))
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], errs[i] = r.get(ctx, u)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return contract.Status{}, err
	}
	return Merge(statuses...), nil
}

func (r *Reader) get(ctx context.Context, base string) (contract.Status, error) {
	var st contract.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+contract.StatusPath, nil)
	if err != nil {
		return st, fmt.Errorf("data-plane status %s: %w", base, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return st, fmt.Errorf("data-plane status %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("data-plane status %s: HTTP %d", base, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decoding data-plane status %s: %w", base, err)
	}
	return st, nil
}

// Merge combines instance statuses. An instance reports a nil map for a role it does not run;
// such an instance has no say on that role.
func Merge(statuses ...contract.Status) contract.Status {
	out := contract.Status{}
	for i, st := range statuses {
		if i == 0 || st.Generation < out.Generation {
			out.Generation = st.Generation
		}
	}
	out.Ingresses = mergeRole(statuses, func(s contract.Status) map[string]contract.ServingStatus { return s.Ingresses })
	out.Egresses = mergeRole(statuses, func(s contract.Status) map[string]contract.ServingStatus { return s.Egresses })
	return out
}

func mergeRole(statuses []contract.Status, role func(contract.Status) map[string]contract.ServingStatus) map[string]contract.ServingStatus {
	out := map[string]contract.ServingStatus{}
	var members []map[string]contract.ServingStatus
	for _, st := range statuses {
		if m := role(st); m != nil {
			members = append(members, m)
		}
	}
	for _, m := range members {
		for uid := range m {
			if _, done := out[uid]; done {
				continue
			}
			merged := contract.ServingStatus{Ready: true}
			for _, other := range members {
				s, ok := other[uid]
				if !ok {
					merged = contract.ServingStatus{Reason: "NotApplied", Message: "a data-plane instance does not serve it yet"}
					break
				}
				if !s.Ready {
					merged = s
					break
				}
			}
			out[uid] = merged
		}
	}
	return out
}
