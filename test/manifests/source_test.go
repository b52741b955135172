package manifests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// What the binaries accept is read from their source, so a renamed flag or environment variable
// fails these tests instead of a pod in a cluster.

// koPrefix starts the image of every container of ours: ko builds the main package at the import
// path that follows.
const koPrefix = "ko://knkafka.dev/"

// binary is what a main package reads from its command line and environment.
type binary struct {
	dir string
	// flags maps each flag the flag package defines to its default, when that is a string literal.
	flags map[string]string
	// env maps each environment variable read with os.Getenv, os.LookupEnv or a local envOr to
	// the default envOr gives it ("" otherwise).
	env map[string]string
	// files are the parsed non-test Go files, for callers looking for more.
	files []*ast.File
}

// parseBinary parses the main package that a ko:// image builds.
func parseBinary(t *testing.T, image string) binary {
	t.Helper()
	importPath, ok := strings.CutPrefix(image, koPrefix)
	if !ok {
		t.Fatalf("image %q is not a %s import path", image, koPrefix)
	}
	dir := filepath.Join(repoRoot, filepath.FromSlash(importPath))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("image %s: %v", image, err)
	}
	b := binary{dir: dir, flags: map[string]string{}, env: map[string]string{}}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "main" {
			t.Fatalf("image %s: %s is package %s, not a main package", image, name, f.Name.Name)
		}
		b.files = append(b.files, f)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if name, def, ok := flagDefinition(call); ok {
				b.flags[name] = def
			}
			if key, def, ok := envRead(call); ok {
				b.env[key] = def
			}
			return true
		})
	}
	if len(b.files) == 0 {
		t.Fatalf("image %s: no Go files in %s", image, dir)
	}
	return b
}

// flagDefinition recognizes flag.String("name", def, usage), flag.StringVar(&v, "name", def,
// usage) and their siblings for other types.
func flagDefinition(call *ast.CallExpr) (name, def string, ok bool) {
	fn, ok := selector(call.Fun, "flag")
	if !ok {
		return "", "", false
	}
	i := 0
	if strings.HasSuffix(fn, "Var") {
		i = 1
	}
	if fn == "Var" || fn == "Func" || fn == "BoolFunc" || fn == "TextVar" {
		return "", "", false // names are still flags, but these carry no plain default
	}
	if len(call.Args) < i+2 {
		return "", "", false
	}
	name, ok = stringLiteral(call.Args[i])
	if !ok {
		return "", "", false
	}
	def, _ = stringLiteral(call.Args[i+1])
	return name, def, true
}

// envRead recognizes os.Getenv("KEY"), os.LookupEnv("KEY") and envOr("KEY", "default").
func envRead(call *ast.CallExpr) (key, def string, ok bool) {
	if len(call.Args) == 0 {
		return "", "", false
	}
	isEnvOr := false
	if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "envOr" {
		isEnvOr = true
	} else if fn, ok := selector(call.Fun, "os"); !ok || (fn != "Getenv" && fn != "LookupEnv") {
		return "", "", false
	}
	key, ok = stringLiteral(call.Args[0])
	if !ok {
		return "", "", false
	}
	if isEnvOr && len(call.Args) > 1 {
		def, _ = stringLiteral(call.Args[1])
	}
	return key, def, true
}

// comparedValues returns the string literals that the value of the string flag name is
// compared with (*v == "x" or *v != "x", where v := flag.String(name, ...)).
func (b binary) comparedValues(name string) []string {
	vars := map[string]bool{}
	for _, f := range b.files {
		ast.Inspect(f, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			call, ok := as.Rhs[0].(*ast.CallExpr)
			if !ok {
				return true
			}
			if got, _, ok := flagDefinition(call); ok && got == name {
				if id, ok := as.Lhs[0].(*ast.Ident); ok {
					vars[id.Name] = true
				}
			}
			return true
		})
	}
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, f := range b.files {
		ast.Inspect(f, func(n ast.Node) bool {
			be, ok := n.(*ast.BinaryExpr)
			if !ok || (be.Op != token.EQL && be.Op != token.NEQ) {
				return true
			}
			for _, pair := range [][2]ast.Expr{{be.X, be.Y}, {be.Y, be.X}} {
				star, ok := pair[0].(*ast.StarExpr)
				if !ok {
					continue
				}
				if id, ok := star.X.(*ast.Ident); ok && vars[id.Name] {
					if v, ok := stringLiteral(pair[1]); ok {
						add(v)
					}
				}
			}
			return true
		})
	}
	return out
}

func selector(e ast.Expr, pkg string) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok || id.Name != pkg {
		return "", false
	}
	return sel.Sel.Name, true
}

func stringLiteral(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// parseArgs splits --name=value arguments. The = form is required: it is unambiguous for every
// flag type, and a separate value would be taken for a positional argument after a bool flag.
func parseArgs(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		trimmed := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, value, ok := strings.Cut(trimmed, "=")
		if trimmed == a || !ok || name == "" {
			t.Errorf("%s: argument %q is not of the form --name=value", where, a)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("%s: flag --%s is given twice", where, name)
		}
		out[name] = value
	}
	return out
}

// addrPort is the port of a listen address such as ":9090".
func addrPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return int32(n)
}
