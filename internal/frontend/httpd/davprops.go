package httpd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/net/webdav"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Limits on dead properties, per home: they are metadata, not storage.
const (
	maxPropsPerHome = 10000
	maxPropValue    = 64 << 10
)

// propStore keeps WebDAV dead properties (PROPPATCH) per home, keyed by
// virtual path. With a directory they are also written there, one JSON file
// per home, so they survive restarts; without one they live in memory.
// They follow MOVE and COPY and go with DELETE done over WebDAV; changes
// made through other protocols do not carry them.
type propStore struct {
	dir string
	mu  sync.Mutex
	ns  map[string]map[string][]storedProp // home -> path -> props
}

type storedProp struct {
	Space    string `json:"ns"`
	Local    string `json:"name"`
	Lang     string `json:"lang,omitempty"`
	InnerXML string `json:"xml"`
}

func newPropStore(dir string) *propStore {
	return &propStore{dir: dir, ns: make(map[string]map[string][]storedProp)}
}

// propView is the store seen from one home.
type propView struct {
	st *propStore
	ns string
}

func (st *propStore) view(ns string) *propView { return &propView{st: st, ns: ns} }

func (st *propStore) file(ns string) string {
	sum := sha256.Sum256([]byte(ns))
	return filepath.Join(st.dir, hex.EncodeToString(sum[:12])+".json")
}

// load returns the home's map, reading it from disk the first time. The
// caller holds mu.
func (st *propStore) load(ns string) map[string][]storedProp {
	m, ok := st.ns[ns]
	if ok {
		return m
	}
	m = make(map[string][]storedProp)
	if st.dir != "" {
		if b, err := os.ReadFile(st.file(ns)); err == nil {
			var disk struct {
				Home  string                  `json:"home"`
				Props map[string][]storedProp `json:"props"`
			}
			if json.Unmarshal(b, &disk) == nil && disk.Home == ns && disk.Props != nil {
				m = disk.Props
			}
		}
	}
	st.ns[ns] = m
	return m
}

// save writes the home's map; the caller holds mu. A failure keeps the
// change in memory.
func (st *propStore) save(ns string) {
	if st.dir == "" {
		return
	}
	b, err := json.Marshal(map[string]any{"home": ns, "props": st.ns[ns]})
	if err != nil {
		return
	}
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return
	}
	tmp := st.file(ns) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, st.file(ns))
}

// davLockDiscovery is served as a dead property: x/net/webdav consults
// dead properties before its live ones and has no lockdiscovery itself.
// (DAV:supportedlock stays the library's, which lists exclusive locks
// only; shared locks are granted all the same.)
var davLockDiscovery = xml.Name{Space: "DAV:", Local: "lockdiscovery"}

// liveNames are DAV: properties the server computes; they are never stored.
var liveNames = map[string]bool{
	"resourcetype": true, "displayname": true, "getcontentlength": true, "getlastmodified": true,
	"creationdate": true, "getcontentlanguage": true, "getcontenttype": true, "getetag": true,
	"lockdiscovery": true, "supportedlock": true,
}

// deadProps returns the stored properties of p plus DAV:lockdiscovery.
func (v *propView) deadProps(p string, locks *lockView) map[xml.Name]webdav.Property {
	out := make(map[xml.Name]webdav.Property)
	v.st.mu.Lock()
	for _, sp := range v.st.load(v.ns)[p] {
		n := xml.Name{Space: sp.Space, Local: sp.Local}
		out[n] = webdav.Property{XMLName: n, Lang: sp.Lang, InnerXML: []byte(sp.InnerXML)}
	}
	v.st.mu.Unlock()
	if locks != nil {
		out[davLockDiscovery] = webdav.Property{XMLName: davLockDiscovery, InnerXML: []byte(locks.discovery(p))}
	}
	return out
}

// patch applies PROPPATCH instructions atomically. Changing properties
// needs the upload right on the resource.
func (v *propView) patch(s *core.Session, p string, patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	var names []webdav.Property
	for _, pp := range patches {
		for _, prop := range pp.Props {
			names = append(names, webdav.Property{XMLName: prop.XMLName})
		}
	}
	fail := func(status int) ([]webdav.Propstat, error) {
		return []webdav.Propstat{{Status: status, Props: names}}, nil
	}
	if !s.Can(ferry.PermUpload, p) {
		return fail(http.StatusForbidden)
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.load(v.ns)
	cur := append([]storedProp(nil), m[p]...)
	for _, pp := range patches {
		for _, prop := range pp.Props {
			if prop.XMLName.Space == "DAV:" && liveNames[prop.XMLName.Local] {
				continue
			}
			if len(prop.InnerXML) > maxPropValue {
				return fail(http.StatusInsufficientStorage)
			}
			cur = removeProp(cur, prop.XMLName)
			if !pp.Remove {
				cur = append(cur, storedProp{Space: prop.XMLName.Space, Local: prop.XMLName.Local,
					Lang: prop.Lang, InnerXML: string(prop.InnerXML)})
			}
		}
	}
	total := len(cur)
	for k, ps := range m {
		if k != p {
			total += len(ps)
		}
	}
	if total > maxPropsPerHome {
		return fail(http.StatusInsufficientStorage)
	}
	if len(cur) == 0 {
		delete(m, p)
	} else {
		m[p] = cur
	}
	v.st.save(v.ns)
	return []webdav.Propstat{{Status: http.StatusOK, Props: names}}, nil
}

func removeProp(ps []storedProp, n xml.Name) []storedProp {
	out := ps[:0]
	for _, sp := range ps {
		if sp.Space != n.Space || sp.Local != n.Local {
			out = append(out, sp)
		}
	}
	return out
}

func within(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// removeTree forgets the properties of p and everything below it.
func (v *propView) removeTree(p string) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.load(v.ns)
	changed := false
	for k := range m {
		if within(k, p) {
			delete(m, k)
			changed = true
		}
	}
	if changed {
		v.st.save(v.ns)
	}
}

// moveTree moves the properties of from and below to to.
func (v *propView) moveTree(from, to string) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.load(v.ns)
	moved := make(map[string][]storedProp)
	for k, ps := range m {
		if within(k, from) {
			moved[to+strings.TrimPrefix(k, from)] = ps
			delete(m, k)
		}
	}
	for k := range m {
		if within(k, to) {
			delete(m, k) // what the move replaced
		}
	}
	for k, ps := range moved {
		m[k] = ps
	}
	if len(moved) > 0 {
		v.st.save(v.ns)
	}
}
