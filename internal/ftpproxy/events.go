package ftpproxy

import (
	"context"
	"net/netip"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Protocol is the protocol of the proxy's events and log lines.
const Protocol ferry.Protocol = "ftp-proxy"

// Reasons given to Options.Report.
const (
	ReportProtocol = "protocol" // garbage or an over-long line before login
	ReportNoAuth   = "no-auth"  // closed without trying to log in
	ReportRefused  = "refused"  // a client address or user the proxy refuses; a data connection from a foreign address
	ReportLogin    = "login"    // the server refused the login
)

// publish sends ev to Options.Events with the proxy's protocol, service
// and the time.
func (s *Server) publish(ev ferry.Event) {
	if s.opts.Events == nil {
		return
	}
	ev.Time = time.Now()
	ev.Protocol = Protocol
	ev.Service = s.opts.Service
	s.opts.Events(ev)
}

// report scores a client's misbehaviour with the defender.
func (s *Server) report(ctx context.Context, ip netip.Addr, why string) {
	if s.opts.Report != nil && ip.IsValid() {
		s.opts.Report(context.WithoutCancel(ctx), ip, why)
	}
}

// event is an event of this session: its id, user and both ends.
func (s *session) event(typ ferry.EventType) ferry.Event {
	ev := ferry.Event{Type: typ, Session: s.id, User: s.user, Remote: s.clientRemote.String(), Status: "ok"}
	if s.backendRemote.IsValid() {
		ev.Detail = "server=" + s.backendRemote.String()
	}
	return ev
}

// protocolError reports a bad command line before login.
func (s *session) protocolError() {
	if !s.loggedIn {
		s.srv.report(s.ctx, s.clientIP, ReportProtocol)
	}
}

// loginResult publishes the server's answer to PASS, as the proxy saw it.
func (s *session) loginResult(code int) {
	s.triedLogin = true
	switch {
	case code == 230:
		s.srv.publish(s.event(ferry.EventLogin))
	case code/100 >= 4:
		ev := s.event(ferry.EventLoginFailed)
		ev.Status = "refused by the server"
		s.srv.publish(ev)
		s.srv.report(s.ctx, s.clientIP, ReportLogin)
	}
}

// dataEvent publishes one finished data connection with both ends.
func (s *session) dataEvent(dd dataDone) {
	if dd.dir == "" {
		return
	}
	ev := s.event(ferry.EventProxyData)
	ev.Size, ev.Duration, ev.Target = dd.n, dd.dur, dd.dir
	ev.Detail = "client=" + dd.client.String() + " server=" + dd.server.String()
	if dd.err != nil {
		ev.Status = dd.err.Error()
	}
	s.srv.publish(ev)
}

// foreignData scores an address that connected to a client data port
// without being the session's client (a hijack attempt). It runs on the
// data connection's goroutine.
func (s *session) foreignData(ip netip.Addr) {
	s.srv.report(s.ctx, ip, ReportRefused)
}
