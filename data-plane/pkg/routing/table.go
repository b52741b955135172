// Package routing holds the ingress routing table: which Broker, KafkaChannel or KafkaSink an
// HTTP request is for, by path ("/<namespace>/<name>") or, for channels, by Host header. A sink's
// path is scoped to the sink ingress host (contract.Ingress.PathHost), so a sink and a broker of
// the same namespace and name each keep their own events. A Table is immutable
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
	// byHostPath holds the routes whose path is scoped to a host; scopedByPath the same routes by
	// path alone, for requests to another host that no unscoped route claims.
	byHostPath   map[hostPath]*Route
	scopedByPath map[string]*Route
	routes       []*Route
}

type hostPath struct{ host, path string }

// NewTable builds the table for c. Resources without an ingress are not routable.
func NewTable(c *contract.Contract) *Table {
	t := &Table{byPath: map[string]*Route{}, byHost: map[string]*Route{},
		byHostPath: map[hostPath]*Route{}, scopedByPath: map[string]*Route{}}
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
		switch p, scope := strings.TrimSuffix(r.Ingress.Path, "/"), normalizeHost(r.Ingress.PathHost); {
		case p == "":
		case scope != "":
			t.byHostPath[hostPath{scope, p}] = route
			t.scopedByPath[p] = route
		default:
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
// path is empty or "/"; otherwise the path decides: first a path scoped to the request's Host (a
// sink on the sink ingress host), then an unscoped path (brokers and channels), then a scoped
// path of another host, so a sink is reached through any host (a port-forward, local mode) as
// long as no broker or channel shares its path.
func (t *Table) Lookup(host, path string) (*Route, bool) {
	if len(t.byHost) > 0 && (path == "" || path == "/") {
		if r, ok := t.byHost[normalizeHost(host)]; ok {
			return r, true
		}
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if len(t.byHostPath) == 0 {
		r, ok := t.byPath[path]
		return r, ok
	}
	if r, ok := t.byHostPath[hostPath{normalizeHost(host), path}]; ok {
		return r, true
	}
	if r, ok := t.byPath[path]; ok {
		return r, true
	}
	r, ok := t.scopedByPath[path]
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
