// Package routing holds the ingress routing table: which Broker or KafkaChannel an HTTP request
// is for, by path ("/<namespace>/<name>") or, for channels, by Host header. A Table is immutable
// once built; the ingress swaps whole tables through an atomic pointer when the contract changes,
// so routing a request takes no lock.
package routing

import (
	"net"
	"strings"

	"knkafka.dev/control-plane/pkg/contract"
)

// Route is where requests for one resource go.
type Route struct {
	// Resource is the contract entry; callers must not modify it. Which Kafka client serves it
	// is the ingress's business (kafkaconn.Key of its servers and credentials).
	Resource *contract.Resource
}

// Table maps request paths and hosts to routes.
type Table struct {
	generation uint64
	byPath     map[string]*Route
	byHost     map[string]*Route
	routes     []*Route
}

// NewTable builds the table for c. Resources without an ingress are not routable.
func NewTable(c *contract.Contract) *Table {
	t := &Table{byPath: map[string]*Route{}, byHost: map[string]*Route{}}
	if c == nil {
		return t
	}
	t.generation = c.Generation
	for i := range c.Resources {
		r := &c.Resources[i]
		if r.Ingress == nil {
			continue
		}
		route := &Route{Resource: r}
		t.routes = append(t.routes, route)
		if p := strings.TrimSuffix(r.Ingress.Path, "/"); p != "" {
			t.byPath[p] = route
		}
		if h := strings.ToLower(r.Ingress.Host); h != "" {
			t.byHost[h] = route
		}
	}
	return t
}

// Generation is the contract generation the table was built from.
func (t *Table) Generation() uint64 { return t.generation }

// Routes lists every route, in contract order.
func (t *Table) Routes() []*Route { return t.routes }

// Lookup finds the route of a request. A Host that names a channel routes the request when the
// path is empty or "/"; otherwise the path decides.
func (t *Table) Lookup(host, path string) (*Route, bool) {
	if len(t.byHost) > 0 && (path == "" || path == "/") {
		if r, ok := t.byHost[normalizeHost(host)]; ok {
			return r, true
		}
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	r, ok := t.byPath[path]
	return r, ok
}

// normalizeHost lowercases host and drops a port. Most requests already send a lowercase host,
// so the common case does not allocate.
func normalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
