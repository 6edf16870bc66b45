package ftpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ftpwire"
)

// transferVerbs open a data connection.
var transferVerbs = map[string]bool{
	"RETR": true, "STOR": true, "STOU": true, "APPE": true, "LIST": true, "NLST": true, "MLSD": true,
}

// onCommand handles one client command in the relay phase.
func (s *session) onCommand(ev cmdEvent) bool {
	if ev.err != nil {
		if errors.Is(ev.err, ftpwire.ErrBadCommand) || errors.Is(ev.err, ftpwire.ErrLineTooLong) {
			s.protocolError()
			return s.reply(500, "Syntax error, command unrecognized.")
		}
		s.log.Debug("client connection", "err", ev.err)
		return false
	}
	cmd := ev.cmd
	s.logCommand("client>", cmd.String())
	switch cmd.Verb {
	case "AUTH":
		return s.cmdAuth(cmd.Arg)
	case "PBSZ":
		return s.cmdPbsz(cmd.Arg)
	case "PROT":
		return s.cmdProt(cmd.Arg)
	case "CCC":
		return s.reply(534, "CCC not allowed through this proxy.")
	case "REIN":
		return s.reply(502, "REIN not implemented by this proxy.")
	case "USER":
		user, ok := s.checkUser(cmd.Arg)
		if !ok {
			return true
		}
		s.user = user
		return s.send("USER "+user, &pending{kind: pendPlain})
	case "PASS":
		return s.send(cmd.String(), &pending{kind: pendPass})
	case "FEAT":
		return s.send("FEAT", &pending{kind: pendFeat})
	case "PASV", "EPSV":
		return s.cmdPassive(cmd)
	case "PORT", "EPRT":
		return s.cmdActive(cmd)
	case "ABOR":
		if s.transfer != nil {
			s.transfer.abort()
		}
		return s.send("ABOR", &pending{kind: pendPlain})
	case "QUIT":
		return s.send("QUIT", &pending{kind: pendQuit})
	}
	if transferVerbs[cmd.Verb] {
		p := &pending{kind: pendTransfer}
		if s.data != nil {
			p.d, s.transfer, s.data = s.data, s.data, nil
		}
		return s.send(cmd.String(), p)
	}
	return s.send(cmd.String(), &pending{kind: pendPlain})
}

// checkUser applies anonymous-only and TLS-required, and strips
// @host[:port] in forward mode (a second USER may not change servers).
func (s *session) checkUser(arg string) (string, bool) {
	user := arg
	if s.opts.Mode == Forward {
		if i := strings.LastIndexByte(arg, '@'); i >= 0 {
			host, port, err := splitHostPort(arg[i+1:], 21)
			if err != nil || !strings.EqualFold(host, s.backendName) || port != s.backendRemote.Port() {
				s.reply(530, "Cannot change servers in a session; reconnect.")
				return "", false
			}
			user = arg[:i]
		}
	}
	if s.opts.RequireTLS && !s.clientTLS {
		s.reply(530, "TLS required: send AUTH TLS first.")
		return "", false
	}
	if s.opts.AnonymousOnly && !isAnonymous(user) {
		s.log.Warn("non-anonymous login refused", "user", user)
		s.srv.report(s.ctx, s.clientIP, ReportRefused)
		s.reply(530, "Only anonymous logins are allowed through this proxy.")
		return "", false
	}
	return user, true
}

func isAnonymous(user string) bool {
	return strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")
}

// cmdAuth terminates TLS at the proxy.
func (s *session) cmdAuth(arg string) bool {
	var next *bufio.Reader
	defer func() {
		select {
		case s.resume <- next:
		case <-s.done:
		}
	}()
	switch {
	case s.opts.TLS == nil:
		return s.reply(502, "AUTH not supported: this proxy has no certificate.")
	case s.clientTLS:
		return s.reply(503, "Already using TLS.")
	case len(s.pending) > 0:
		return s.reply(503, "AUTH while commands are pending.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TLS", "TLS-C", "SSL":
	default:
		return s.reply(504, "AUTH "+arg+" not supported; use AUTH TLS.")
	}
	if !s.writeReply(234, "AUTH TLS OK.") {
		return false
	}
	tc := tls.Server(s.client, s.opts.TLS)
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.DataTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Warn("TLS handshake with client", "err", err)
		s.protocolError()
		return false
	}
	s.client = tc
	s.clientTLS = true
	next = bufio.NewReader(tc)
	return true
}

func (s *session) cmdPbsz(arg string) bool {
	if !s.clientTLS {
		return s.reply(503, "PBSZ needs AUTH TLS first.")
	}
	s.clientPBSZ = true
	return s.reply(200, "PBSZ=0")
}

func (s *session) cmdProt(arg string) bool {
	if !s.clientTLS {
		return s.reply(503, "PROT needs AUTH TLS first.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		s.clientProt = true
		return s.reply(200, "PROT now Private.")
	case "C":
		s.clientProt = false
		return s.reply(200, "PROT now Clear.")
	case "S", "E":
		return s.reply(536, "PROT "+arg+" not supported.")
	}
	return s.reply(504, "PROT: want C or P.")
}

// cmdPassive handles PASV and EPSV: the client will connect to the proxy.
func (s *session) cmdPassive(cmd ftpwire.Command) bool {
	if cmd.Verb == "EPSV" {
		a, err := ftpwire.ParseEPSVArg(cmd.Arg)
		if err != nil {
			return s.reply(501, err.Error())
		}
		switch {
		case a == ftpwire.EPSVAll:
			s.epsvAll = true
			return s.reply(200, "EPSV ALL ok.")
		case a == ftpwire.EPSVIPv4 && !s.clientLocal.Addr().Unmap().Is4(),
			a == ftpwire.EPSVIPv6 && s.clientLocal.Addr().Unmap().Is4():
			fam := "1"
			if !s.clientLocal.Addr().Unmap().Is4() {
				fam = "2"
			}
			return s.reply(522, "Network protocol not supported, use ("+fam+")")
		}
	} else if !s.announceAddr().Is4() {
		return s.reply(425, "PASV cannot give an IPv6 address; use EPSV.")
	}
	if s.opts.NAT {
		// NAT mode: the client connects to the server (or a port
		// forward on the proxy host) directly.
		if s.data != nil {
			s.data.abort()
			s.data = nil
		}
		return s.send(cmd.String(), &pending{kind: pendPlain})
	}
	ln, err := listenRange(s.clientLocal.Addr(), s.opts.PortLow, s.opts.PortHigh)
	if err != nil {
		s.log.Error("passive listener for client", "err", err)
		return s.reply(425, "Cannot open a passive connection.")
	}
	d := &dataConn{client: end{ln: ln, peer: s.clientIP, tls: s.clientDataTLS(), server: true, foreign: s.foreignData}}
	return s.setupBackend(d, cmd.Verb)
}

// cmdActive handles PORT and EPRT: the proxy will connect to the client.
func (s *session) cmdActive(cmd ftpwire.Command) bool {
	if s.epsvAll {
		return s.reply(503, cmd.Verb+" not allowed after EPSV ALL.")
	}
	var ap netip.AddrPort
	var err error
	if cmd.Verb == "PORT" {
		ap, err = ftpwire.ParsePORT(cmd.Arg)
	} else {
		ap, err = ftpwire.ParseEPRT(cmd.Arg)
	}
	if err != nil {
		if cmd.Verb == "EPRT" && strings.Contains(err.Error(), "unknown network protocol") {
			return s.reply(522, "Network protocol not supported, use (1,2)")
		}
		return s.reply(501, err.Error())
	}
	if ap.Addr().Unmap() != s.clientIP {
		// Bounce protection: data goes only to the client itself.
		s.log.Warn("PORT to a foreign address refused", "addr", ap.String())
		return s.reply(500, "Illegal "+cmd.Verb+": the address must be your own.")
	}
	if ap.Port() < 1024 {
		return s.reply(500, "Illegal "+cmd.Verb+": port below 1024.")
	}
	d := &dataConn{client: end{addr: ap, src: s.clientLocal.Addr().Unmap(), tls: s.clientDataTLS(), server: true}}
	return s.setupBackend(d, cmd.Verb)
}

func (s *session) clientDataTLS() *tls.Config {
	if s.clientTLS && s.clientProt {
		return s.opts.TLS
	}
	return nil
}

// setupBackend asks the backend for its side of the data connection.
func (s *session) setupBackend(d *dataConn, clientVerb string) bool {
	if s.backendProt {
		d.backend.tls = s.backendTLS
	}
	remote := s.backendRemote.Addr().Unmap()
	passive := s.opts.BackendData == DataPassive ||
		s.opts.BackendData == DataMirror && (clientVerb == "PASV" || clientVerb == "EPSV")
	p := &pending{kind: pendSetup, d: d, clientVerb: clientVerb, backendPassive: passive}
	if passive {
		d.backend.peer = remote
		d.backend.src = s.sourceFor(remote)
		if remote.Is4() {
			return s.send("PASV", p)
		}
		return s.send("EPSV", p)
	}
	src := s.backendLocal.Addr().Unmap()
	ln, err := listenRange(src, s.opts.PortLow, s.opts.PortHigh)
	if err != nil {
		d.abort()
		s.log.Error("active listener for server", "err", err)
		return s.reply(425, "Cannot open a data connection.")
	}
	d.backend.ln, d.backend.peer = ln, remote
	lap := netip.AddrPortFrom(src, uint16(ln.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
	if arg, ok := ftpwire.FormatPORT(lap); ok {
		return s.send("PORT "+arg, p)
	}
	return s.send("EPRT "+ftpwire.FormatEPRT(lap), p)
}

// finishSetup completes a data connection once the backend has answered
// the proxy's PASV/EPSV/PORT/EPRT.
func (s *session) finishSetup(p *pending, rep ftpwire.Reply) bool {
	d := p.d
	if rep.Code/100 != 2 {
		d.abort()
		return s.writeRaw(appendReply(nil, rep))
	}
	if p.backendPassive {
		var port uint16
		switch rep.Code {
		case 227:
			// The server's announced address is ignored: the data
			// connection goes to the address the proxy already talks
			// to (a server behind NAT announces what it likes, and a
			// hostile one cannot aim the proxy elsewhere).
			ap, err := ftpwire.ParsePASV(rep.Text())
			if err == nil {
				port = ap.Port()
			}
		case 229:
			port, _ = ftpwire.ParseEPSV(rep.Text())
		}
		if port == 0 {
			d.abort()
			s.log.Warn("unusable passive reply from server", "code", rep.Code, "text", rep.Text())
			return s.reply(425, "Cannot open a data connection to the server.")
		}
		d.backend.addr = netip.AddrPortFrom(d.backend.peer, port)
		d.backend.peer = netip.Addr{}
	}
	var text string
	code := 200
	switch p.clientVerb {
	case "PASV", "EPSV":
		port := uint16(d.client.ln.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port())
		if p.clientVerb == "PASV" {
			code = 227
			text, _ = ftpwire.FormatPASV(netip.AddrPortFrom(s.announceAddr(), port))
		} else {
			code, text = 229, ftpwire.FormatEPSV(port)
		}
	default:
		text = p.clientVerb + " command successful."
	}
	s.startData(d)
	s.logLocalReply(code, []string{text})
	return s.writeRaw(ftpwire.AppendReply(nil, code, text))
}

// announceAddr is the address PASV gives the client.
func (s *session) announceAddr() netip.Addr {
	if s.opts.PublicAddr.IsValid() {
		return s.opts.PublicAddr.Unmap()
	}
	return s.clientLocal.Addr().Unmap()
}

// features rewrites the server's FEAT: the proxy decides TLS, EPSV and
// EPRT itself.
func (s *session) features(rep ftpwire.Reply) ftpwire.Reply {
	lines := []string{"Extensions supported:"}
	if rep.Code == 211 && len(rep.Lines) > 2 {
		for _, l := range rep.Lines[1 : len(rep.Lines)-1] {
			f := strings.Fields(strings.ToUpper(l))
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "AUTH", "PBSZ", "PROT", "CCC", "EPSV", "EPRT":
				continue
			}
			lines = append(lines, l)
		}
	}
	if s.opts.TLS != nil {
		lines = append(lines, " AUTH TLS", " PBSZ", " PROT")
	}
	lines = append(lines, " EPRT", " EPSV", "End")
	return ftpwire.Reply{Code: 211, Lines: lines}
}

// preLogin is forward mode before the client has named its server: the
// proxy greets, handles TLS and waits for USER user@host[:port].
func (s *session) preLogin(ctx context.Context) bool {
	if !s.writeReply(220, strings.Split(s.opts.Banner, "\n")...) {
		return false
	}
	idle := time.NewTimer(s.opts.IdleTimeout)
	defer idle.Stop()
	for {
		var ev cmdEvent
		select {
		case <-ctx.Done():
			s.writeReply(421, "Service shutting down.")
			return false
		case <-idle.C:
			s.writeReply(421, "Idle timeout; closing the connection.")
			return false
		case ev = <-s.cmds:
		}
		if ev.err != nil {
			if errors.Is(ev.err, ftpwire.ErrBadCommand) || errors.Is(ev.err, ftpwire.ErrLineTooLong) {
				s.protocolError()
				if !s.writeReply(500, "Syntax error, command unrecognized.") {
					return false
				}
				continue
			}
			return false
		}
		cmd := ev.cmd
		s.logCommand("client>", cmd.String())
		ok := true
		switch cmd.Verb {
		case "AUTH":
			ok = s.cmdAuth(cmd.Arg)
		case "PBSZ":
			ok = s.cmdPbsz(cmd.Arg)
		case "PROT":
			ok = s.cmdProt(cmd.Arg)
		case "FEAT":
			ok = s.writeRaw(appendReply(nil, s.features(ftpwire.Reply{})))
		case "SYST":
			ok = s.writeReply(215, "UNIX Type: L8")
		case "NOOP", "OPTS", "CLNT":
			ok = s.writeReply(200, "OK.")
		case "QUIT":
			s.writeReply(221, "Goodbye.")
			return false
		case "USER":
			var connected bool
			if connected, ok = s.forwardUser(ctx, cmd.Arg); connected {
				return ok
			}
		default:
			ok = s.writeReply(530, "Log in with USER user@host[:port] first.")
		}
		if !ok {
			return false
		}
	}
}

// forwardUser connects to the server named in USER user@host[:port] and
// sends it USER user.
func (s *session) forwardUser(ctx context.Context, arg string) (connected, ok bool) {
	i := strings.LastIndexByte(arg, '@')
	if i < 0 {
		return false, s.writeReply(530, "Name the server: USER user@host[:port].")
	}
	host, port, err := splitHostPort(arg[i+1:], 21)
	if err != nil {
		return false, s.writeReply(530, "Bad server in USER: "+err.Error()+".")
	}
	user := arg[:i]
	if s.opts.RequireTLS && !s.clientTLS {
		return false, s.writeReply(530, "TLS required: send AUTH TLS first.")
	}
	if s.opts.AnonymousOnly && !isAnonymous(user) {
		s.log.Warn("non-anonymous login refused", "user", user)
		s.srv.report(s.ctx, s.clientIP, ReportRefused)
		return false, s.writeReply(530, "Only anonymous logins are allowed through this proxy.")
	}
	greet, err := s.dialBackend(ctx, host, port)
	if err != nil {
		s.backendFailed(host, port, err)
		return true, false
	}
	if greet.Code != 220 {
		s.writeRaw(appendReply(nil, greet))
		return true, false
	}
	s.log.Info("connected to server", "server", s.backendRemote.String(), "source", s.backendLocal.String(),
		"tls", s.backendTLS != nil)
	go s.readBackend(s.backendR)
	s.user = user
	return true, s.send("USER "+user, &pending{kind: pendPlain})
}
