package app_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/ferrymft/ferry/internal/"

// protocolLibs are packages the inner layers must never depend on, even
// transitively: the core decides policy without knowing any wire.
var protocolLibs = []string{
	"net/http", "golang.org/x/crypto/ssh", "golang.org/x/net/webdav", "github.com/pkg/sftp",
	"github.com/jlaffaye/ftp", "github.com/studio-b12/gowebdav",
}

// inner are the packages that hold policy and contracts.
var inner = []string{"ferry", "vpath", "perm", "auth", "core", "storage", "store", "events"}

// TestImportRules enforces DESIGN.md §2: imports point inward, front ends
// never import each other, and only the composition root (app, and the CLI
// shell around it) knows the concrete store and storage backends.
func TestImportRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}|{{join .Imports \" \"}}", "github.com/ferrymft/ferry/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct{ deps, imports []string }
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			continue
		}
		pkgs[parts[0]] = pkg{deps: strings.Fields(parts[1]), imports: strings.Fields(parts[2])}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list returned only %d packages", len(pkgs))
	}
	under := func(p, prefix string) bool {
		return p == mod+prefix || strings.HasPrefix(p, mod+prefix+"/")
	}
	frontEnd := func(p string) string {
		if !strings.HasPrefix(p, mod+"frontend/") {
			return ""
		}
		rest := strings.TrimPrefix(p, mod+"frontend/")
		name, _, _ := strings.Cut(rest, "/")
		return name
	}
	for name, p := range pkgs {
		isTest := strings.HasSuffix(name, "test") // ferrytest, storagetest, storetest helpers
		for _, in := range inner {
			if !under(name, in) || isTest {
				continue
			}
			for _, d := range p.deps {
				for _, lib := range protocolLibs {
					// The event sinks under events/ (webhooks, metrics) speak
					// HTTP by nature; the bus itself stays free of it.
					sink := strings.HasPrefix(name, mod+"events/") && lib == "net/http"
					if d == lib && !sink {
						t.Errorf("%s depends on protocol library %s", name, lib)
					}
				}
				if strings.HasPrefix(d, mod+"frontend/") || under(d, "app") || under(d, "servicemgr") || under(d, "adminapi") {
					t.Errorf("%s (inner) depends on outer package %s", name, d)
				}
			}
		}
		if fe := frontEnd(name); fe != "" {
			for _, d := range p.deps {
				if other := frontEnd(d); other != "" && other != fe {
					t.Errorf("front end %s imports front end %s", name, d)
				}
				for _, forbidden := range []string{"store", "app", "config", "servicemgr", "storage/local", "cli"} {
					if under(d, forbidden) {
						t.Errorf("front end %s depends on %s", name, d)
					}
				}
			}
		}
		for _, d := range p.imports {
			concrete := under(d, "store") && !under(d, "store/storetest") || under(d, "storage/local")
			allowed := under(name, "app") || under(name, "cli") || under(name, "store") || under(name, "storage") || isTest
			if concrete && !allowed {
				t.Errorf("%s imports concrete implementation %s; only app wires those", name, d)
			}
		}
	}
}
