package ftpproxy

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// recorder collects the proxy's events and defender reports.
type recorder struct {
	events  chan ferry.Event
	reports chan string // "ip why"
}

func newRecorder(opts *Options) *recorder {
	r := &recorder{events: make(chan ferry.Event, 1000), reports: make(chan string, 1000)}
	opts.Events = func(ev ferry.Event) { r.events <- ev }
	opts.Report = func(_ context.Context, ip netip.Addr, why string) { r.reports <- ip.String() + " " + why }
	return r
}

// until returns the events up to and including the first of type typ.
func (r *recorder) until(typ ferry.EventType) []ferry.Event {
	var out []ferry.Event
	for ev := range r.events {
		out = append(out, ev)
		if ev.Type == typ {
			return out
		}
	}
	return out
}

func TestProxySessionEvents(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	opts := Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), Service: "px"}
	rec := newRecorder(&opts)
	addr := startProxy(t, opts, "")

	c := mustDial(t, addr, "alice", "pw", nil)
	data := randomBytes(t, 100000)
	if err := c.Upload("/f.bin", data); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Download("/f.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
	c.c.Quit()

	evs := rec.until(ferry.EventProxyDisconnect)
	var types []string
	for _, ev := range evs {
		types = append(types, string(ev.Type))
		if ev.Protocol != Protocol || ev.Service != "px" || ev.Time.IsZero() || !strings.HasPrefix(ev.Remote, "127.0.0.1:") {
			t.Errorf("event %+v: want protocol, service, time and the client's address", ev)
		}
	}
	if types[0] != "proxy_connect" || types[1] != "login" || types[len(types)-1] != "proxy_disconnect" {
		t.Fatalf("event types %v", types)
	}
	var up, down bool
	for _, ev := range evs {
		switch {
		case ev.Type == ferry.EventLogin:
			if ev.User != "alice" || !strings.HasPrefix(ev.Detail, "server=127.0.0.1:") {
				t.Errorf("login event %+v", ev)
			}
		case ev.Type == ferry.EventProxyData:
			if !strings.Contains(ev.Detail, "client=127.0.0.1:") || !strings.Contains(ev.Detail, " server=127.0.0.1:") || ev.Status != "ok" {
				t.Errorf("data event %+v: want both ends", ev)
			}
			up = up || ev.Target == "client_to_server" && ev.Size == int64(len(data))
			down = down || ev.Target == "server_to_client" && ev.Size == int64(len(data))
		case ev.Type == ferry.EventProxyDisconnect:
			if ev.User != "alice" || ev.Duration <= 0 {
				t.Errorf("disconnect event %+v", ev)
			}
		}
	}
	if !up || !down {
		t.Errorf("data events %v: want the upload and the download with their sizes", evs)
	}
	select {
	case r := <-rec.reports:
		t.Errorf("a good session was reported to the defender: %s", r)
	default:
	}
}

// A client misbehaving before login is reported to the defender: garbage,
// a refused user, a login the server refused, a connection closed without
// trying, a refused address.
func TestProxyReportsToDefender(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	backend := startBackend(t, env, ftpd.TLSOff, "")
	opts := Options{Backend: backend, AnonymousOnly: true}
	rec := newRecorder(&opts)
	addr := startProxy(t, opts, "")

	r, _ := dialRaw(t, addr)
	r.conn.Write([]byte("\x00\xff garbage \x01\r\n"))
	r.want(r.read(), 500)
	if got := <-rec.reports; got != "127.0.0.1 protocol" {
		t.Errorf("garbage: report %q", got)
	}
	r.want(r.cmd("USER alice"), 530)
	if got := <-rec.reports; got != "127.0.0.1 refused" {
		t.Errorf("refused user: report %q", got)
	}
	r.want(r.cmd("USER ftp"), 331)
	r.want(r.cmd("PASS x"), 530) // no anonymous account on the backend
	if got := <-rec.reports; got != "127.0.0.1 login" {
		t.Errorf("failed login: report %q", got)
	}
	for ev := range rec.events {
		if ev.Type == ferry.EventLoginFailed {
			if ev.User != "ftp" {
				t.Errorf("login_failed %+v", ev)
			}
			break
		}
	}
	r.conn.Close()

	// Connected, then gone without USER.
	r2, _ := dialRaw(t, addr)
	r2.conn.Close()
	if got := <-rec.reports; got != "127.0.0.1 no-auth" {
		t.Errorf("no login attempt: report %q", got)
	}

	// A denied address is refused and reported.
	deny := Options{Backend: backend, DenyClients: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	rec2 := newRecorder(&deny)
	r3, greet := dialRaw(t, startProxy(t, deny, ""))
	r3.want(greet, 421)
	if got := <-rec2.reports; got != "127.0.0.1 refused" {
		t.Errorf("denied client: report %q", got)
	}
	if ev := <-rec2.events; ev.Type != ferry.EventProxyConnect || !strings.HasPrefix(ev.Status, "refused") {
		t.Errorf("refused connection event %+v", ev)
	}
}

// A connection to a client data port from another address than the
// client's is refused and that address reported.
func TestProxyReportsForeignDataConnection(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("secret data"))
	opts := Options{Backend: startBackend(t, env, ftpd.TLSOff, "")}
	rec := newRecorder(&opts)
	addr := startProxy(t, opts, "")
	r, _ := dialRaw(t, addr)
	r.login("alice", "pw")
	rep := r.cmd("EPSV")
	r.want(rep, 229)
	port, err := ftpwire.ParseEPSV(rep.Text())
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	foreign, err := d.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	defer foreign.Close()
	if got := <-rec.reports; got != "127.0.0.2 refused" {
		t.Errorf("foreign data connection: report %q", got)
	}
}
