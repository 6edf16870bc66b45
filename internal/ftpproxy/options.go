package ftpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Mode is how the proxy chooses the backend server.
type Mode int

// Modes.
const (
	// Reverse sends every client to Options.Backend.
	Reverse Mode = iota
	// Forward lets the client name the backend: USER user@host[:port].
	Forward
	// Transparent connects to the original destination of a connection
	// redirected to the proxy by the firewall (Linux SO_ORIGINAL_DST).
	Transparent
)

var modeNames = []string{"reverse", "forward", "transparent"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode accepts reverse, forward or transparent.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("mode: %q: accepted values are %s", s, strings.Join(modeNames, ", "))
}

// BackendTLS is whether the proxy speaks TLS to the backend.
type BackendTLS int

// Backend TLS policies.
const (
	// BackendTLSAuto sends AUTH TLS and goes on in the clear when the
	// backend refuses it (a certificate that fails verification is never
	// a reason to go on in the clear).
	BackendTLSAuto BackendTLS = iota
	// BackendTLSRequired closes the session when the backend refuses
	// AUTH TLS.
	BackendTLSRequired
	// BackendTLSOff never sends AUTH TLS to the backend.
	BackendTLSOff
)

var backendTLSNames = []string{"auto", "on", "off"}

func (b BackendTLS) String() string {
	if int(b) < len(backendTLSNames) {
		return backendTLSNames[b]
	}
	return "backend-tls(" + strconv.Itoa(int(b)) + ")"
}

// ParseBackendTLS accepts auto, on or off.
func ParseBackendTLS(s string) (BackendTLS, error) {
	for i, n := range backendTLSNames {
		if strings.EqualFold(s, n) {
			return BackendTLS(i), nil
		}
	}
	return 0, fmt.Errorf("backend_tls: %q: accepted values are %s", s, strings.Join(backendTLSNames, ", "))
}

// BackendData is how the proxy opens data connections to the backend.
type BackendData int

// Backend data connection policies.
const (
	// DataMirror uses the client's choice: passive toward the backend
	// when the client asked for passive, active when it sent PORT/EPRT
	// (what ftp-proxy(8) does).
	DataMirror BackendData = iota
	// DataPassive always uses PASV/EPSV toward the backend (a backend
	// behind a firewall that cannot connect out).
	DataPassive
	// DataActive always uses PORT/EPRT toward the backend.
	DataActive
)

var backendDataNames = []string{"mirror", "passive", "active"}

func (b BackendData) String() string {
	if int(b) < len(backendDataNames) {
		return backendDataNames[b]
	}
	return "backend-data(" + strconv.Itoa(int(b)) + ")"
}

// ParseBackendData accepts mirror, passive or active.
func ParseBackendData(s string) (BackendData, error) {
	for i, n := range backendDataNames {
		if strings.EqualFold(s, n) {
			return BackendData(i), nil
		}
	}
	return 0, fmt.Errorf("backend_data: %q: accepted values are %s", s, strings.Join(backendDataNames, ", "))
}

// Options configure a Server. The zero value of every field but Backend
// (reverse mode) and AllowBackends (forward mode) is usable.
type Options struct {
	Mode Mode
	// Backend is the server's host:port in reverse mode (port 21 when
	// missing).
	Backend string
	// AllowBackends and DenyBackends filter the backends a session may
	// reach in forward and transparent mode (reverse mode too, where they
	// are rarely useful). Deny wins. Forward mode needs a non-empty
	// allow-list ("*" allows any).
	AllowBackends, DenyBackends []HostRule
	// AllowClients and DenyClients filter client addresses (the
	// tcp-wrappers role); an empty allow-list allows every client not
	// denied.
	AllowClients, DenyClients []netip.Prefix
	// Banned, when set, refuses clients the defender has banned.
	Banned func(netip.Addr) bool
	// Report, when set, scores a client's misbehaviour with the defender
	// (core's Engine.Report): protocol errors before login, connections
	// closed without a login attempt, refused addresses and users, logins
	// the server refused. why is one of the Report* constants.
	Report func(ctx context.Context, addr netip.Addr, why string)
	// Events, when set, receives the proxy's events (app: the event bus):
	// proxy_connect, login and login_failed as seen through the proxy,
	// proxy_data per data connection, proxy_disconnect. It must not block.
	Events func(ferry.Event)

	// SourceAddr is the local address for connections to backends
	// (control and active-mode data listeners); invalid is any.
	SourceAddr netip.Addr
	// PublicAddr is the address announced to clients in PASV replies;
	// invalid is the address the client dialled.
	PublicAddr netip.Addr
	// PortLow and PortHigh bound the ports of every data listener, on
	// both sides; zero is any port.
	PortLow, PortHigh int
	// BackendData picks passive or active toward the backend.
	BackendData BackendData
	// NAT leaves passive data connections direct: PASV and EPSV are
	// relayed as they are and the client connects to the backend itself
	// (ftp-proxy(8) -n). Active mode is still proxied.
	NAT bool

	// AnonymousOnly refuses every user but ftp and anonymous.
	AnonymousOnly bool
	// IdleTimeout closes both sides of a session idle that long (default
	// 15 min); a running data transfer is not idle. DataTimeout bounds the
	// wait for a data connection (default 1 min). DialTimeout bounds the
	// connection to the backend (default 30 s).
	IdleTimeout, DataTimeout, DialTimeout time.Duration
	// MaxConns and MaxConnsPerIP limit concurrent sessions (0: no limit).
	MaxConns, MaxConnsPerIP int

	// TLS is the proxy's certificate toward clients; nil refuses AUTH
	// TLS. RequireTLS refuses USER before AUTH TLS.
	TLS        *tls.Config
	RequireTLS bool
	// BackendTLS is the TLS policy toward backends; BackendTLSConfig
	// verifies them (nil: system roots, server name from the backend's
	// host).
	BackendTLS       BackendTLS
	BackendTLSConfig *tls.Config

	// Verbose logs every command and reply (PASS masked).
	Verbose bool
	// Banner is the greeting in forward mode, where the proxy speaks
	// before it knows the backend.
	Banner string
	// Service names the service in log lines.
	Service string
	Logger  *slog.Logger
}

func (o *Options) validate() error {
	if o.PortLow != 0 || o.PortHigh != 0 {
		if o.PortLow < 1 || o.PortHigh > 65535 || o.PortLow > o.PortHigh {
			return fmt.Errorf("ftpproxy: data ports %d-%d: want 1 <= low <= high <= 65535", o.PortLow, o.PortHigh)
		}
	}
	switch o.Mode {
	case Reverse:
		if o.Backend == "" {
			return errors.New("ftpproxy: reverse mode needs a backend (host[:port])")
		}
		if _, _, err := splitHostPort(o.Backend, 21); err != nil {
			return fmt.Errorf("ftpproxy: backend %q: %w", o.Backend, err)
		}
	case Forward:
		if len(o.AllowBackends) == 0 {
			return errors.New("ftpproxy: forward mode needs an allow-list of backends (use * to allow any)")
		}
	case Transparent:
		if err := transparentSupported(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("ftpproxy: unknown mode %d", o.Mode)
	}
	if o.RequireTLS && o.TLS == nil {
		return errors.New("ftpproxy: TLS required toward clients but no certificate configured")
	}
	return nil
}

// splitHostPort splits "host[:port]" or "[v6]:port" or a bare IPv6
// address, using def when the port is missing.
func splitHostPort(s string, def uint16) (host string, port uint16, err error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String(), def, nil
	}
	h, p, ok := strings.Cut(s, ":")
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, errors.New("missing ]")
		}
		h = s[1:end]
		rest := s[end+1:]
		p, ok = strings.CutPrefix(rest, ":")
		if rest != "" && !ok {
			return "", 0, errors.New("junk after ]")
		}
	} else if strings.Count(s, ":") > 1 {
		return "", 0, errors.New("IPv6 addresses with a port need brackets: [addr]:port")
	}
	if h == "" {
		return "", 0, errors.New("empty host")
	}
	if !ok {
		return h, def, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	return h, uint16(n), nil
}
