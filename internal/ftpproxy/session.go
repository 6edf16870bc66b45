package ftpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

type cmdEvent struct {
	cmd ftpwire.Command
	err error
}

type replyEvent struct {
	rep ftpwire.Reply
	err error
}

// session is one proxied client. Everything but the two readers and the
// data connections runs on the loop's goroutine, so the state needs no
// lock.
type session struct {
	srv  *Server
	opts *Options
	id   string
	log  *slog.Logger

	client       net.Conn // *tls.Conn after AUTH TLS
	clientIP     netip.Addr
	clientRemote netip.AddrPort
	clientLocal  netip.AddrPort
	clientTLS    bool
	clientProt   bool // PROT P: data connections to the client in TLS
	clientPBSZ   bool
	epsvAll      bool

	backend       net.Conn
	backendR      *bufio.Reader
	backendName   string
	backendRemote netip.AddrPort
	backendLocal  netip.AddrPort
	backendTLS    *tls.Config // nil: clear control connection
	backendProt   bool

	user       string
	loggedIn   bool
	triedLogin bool // a PASS reached the server

	cmds     chan cmdEvent
	resume   chan *bufio.Reader // after an AUTH command: the reader to go on with (nil: same)
	replies  chan replyEvent
	dataDone chan dataDone
	done     chan struct{}
	ctx      context.Context

	pending  []*pending
	data     *dataConn // set up, waiting for its transfer command
	transfer *dataConn // carrying the current transfer
	active   map[*dataConn]bool
	// hold queues replies while a transfer's final reply waits for its
	// data connection to finish.
	hold    *dataConn
	holdBuf []byte
}

type pendKind int

const (
	pendPlain    pendKind = iota
	pendLocal             // a local reply queued behind earlier relayed ones
	pendSetup             // the backend's reply to the proxy's own PASV/EPSV/PORT/EPRT
	pendTransfer          // RETR, STOR, LIST…
	pendFeat
	pendPass
	pendQuit
)

type pending struct {
	kind  pendKind
	local []byte
	d     *dataConn
	// For pendSetup: what the client asked for and how the proxy asked
	// the backend.
	clientVerb     string
	backendPassive bool
}

func (s *session) run(ctx context.Context) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	s.cmds = make(chan cmdEvent)
	s.resume = make(chan *bufio.Reader)
	s.replies = make(chan replyEvent)
	s.dataDone = make(chan dataDone)
	s.done = make(chan struct{})
	s.active = map[*dataConn]bool{}
	s.log.Info("client connected", "local", s.clientLocal.String(), "mode", s.opts.Mode.String())
	connect := s.event(ferry.EventProxyConnect)
	connect.Detail = "local=" + s.clientLocal.String()
	s.srv.publish(connect)
	dialled := false // the client got a chance to log in
	defer func() {
		close(s.done)
		for d := range s.active {
			d.abort()
		}
		if s.data != nil {
			s.data.abort()
		}
		if s.backend != nil {
			s.backend.Close()
		}
		s.client.Close()
		s.log.Info("client disconnected", "user", s.user, "server", s.backendRemote.String(),
			"duration", time.Since(start).Round(time.Millisecond))
		ev := s.event(ferry.EventProxyDisconnect)
		ev.Duration = time.Since(start)
		s.srv.publish(ev)
		if dialled && s.user == "" && !s.triedLogin && ctx.Err() == nil {
			s.srv.report(ctx, s.clientIP, ReportNoAuth)
		}
	}()
	go s.readClient(bufio.NewReader(s.client))
	dialled = s.opts.Mode == Forward // the proxy itself asks for USER
	if !s.open(ctx) {
		return
	}
	dialled = true
	s.loop(ctx)
}

// open connects to the backend: at once in reverse and transparent mode
// (relaying its greeting), after USER user@host in forward mode.
func (s *session) open(ctx context.Context) bool {
	var host string
	var port uint16
	switch s.opts.Mode {
	case Forward:
		return s.preLogin(ctx)
	case Reverse:
		host, port, _ = splitHostPort(s.opts.Backend, 21)
	case Transparent:
		dst, err := originalDst(s.client)
		if err != nil {
			s.log.Error("transparent mode: original destination", "err", err)
			s.writeReply(421, "Cannot determine the server you are connecting to.")
			return false
		}
		host, port = dst.Addr().Unmap().String(), dst.Port()
	}
	greet, err := s.dialBackend(ctx, host, port)
	if err != nil {
		s.backendFailed(host, port, err)
		return false
	}
	s.log.Info("connected to server", "server", s.backendRemote.String(), "source", s.backendLocal.String(),
		"tls", s.backendTLS != nil)
	if !s.writeRaw(appendReply(nil, greet)) || greet.Code != 220 {
		return false
	}
	go s.readBackend(s.backendR)
	return true
}

func (s *session) backendFailed(host string, port uint16, err error) {
	if errors.Is(err, errRefused) {
		s.log.Warn("server refused by the access lists", "server", host, "port", port)
		s.writeReply(421, "Connection to that server is not allowed.")
		return
	}
	s.log.Error("cannot connect to server", "server", host, "port", port, "err", err)
	s.writeReply(421, "Cannot connect to the server.")
}

// readClient feeds the loop with the client's commands. After AUTH it
// waits for the loop to say how to go on, since TLS follows the reply.
func (s *session) readClient(r *bufio.Reader) {
	for {
		cmd, err := ftpwire.ReadCommand(r)
		select {
		case s.cmds <- cmdEvent{cmd, err}:
		case <-s.done:
			return
		}
		if err != nil && !errors.Is(err, ftpwire.ErrBadCommand) && !errors.Is(err, ftpwire.ErrLineTooLong) {
			return
		}
		if err == nil && cmd.Verb == "AUTH" {
			select {
			case nr := <-s.resume:
				if nr != nil {
					r = nr
				}
			case <-s.done:
				return
			}
		}
	}
}

func (s *session) loop(ctx context.Context) {
	idle := time.NewTimer(s.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.writeReply(421, "Service shutting down.")
			return
		case ev := <-s.cmds:
			idle.Reset(s.opts.IdleTimeout)
			if !s.onCommand(ev) {
				return
			}
		case ev := <-s.replies:
			if !s.onReply(ev) {
				return
			}
		case dd := <-s.dataDone:
			idle.Reset(s.opts.IdleTimeout)
			if !s.onDataDone(dd) {
				return
			}
		case <-idle.C:
			if len(s.pending) > 0 || s.transfer != nil {
				// Waiting for the server or moving data is not idle.
				idle.Reset(s.opts.IdleTimeout)
				continue
			}
			s.log.Info("idle timeout", "after", s.opts.IdleTimeout)
			s.writeReply(421, "Idle timeout; closing the connection.")
			return
		}
	}
}

func (s *session) reportData(dd dataDone) {
	select {
	case s.dataDone <- dd:
	case <-s.done:
	}
}

// startData runs a set-up data connection.
func (s *session) startData(d *dataConn) {
	if s.data != nil {
		s.data.abort()
	}
	s.data = d
	s.active[d] = true
	d.start(s.ctx, s.opts.DataTimeout, s.log, s.reportData)
}

func (s *session) onDataDone(dd dataDone) bool {
	d := dd.d
	if d.finished {
		return true
	}
	d.finished = true
	delete(s.active, d)
	s.dataEvent(dd)
	if dd.err != nil {
		s.log.Warn("data connection failed", "err", dd.err)
		if s.data == d {
			s.data = nil
		}
	}
	if s.hold == d {
		s.hold = nil
		buf := s.holdBuf
		s.holdBuf = nil
		return s.writeRaw(buf)
	}
	return true
}

// onReply routes a backend reply to the command waiting for it.
func (s *session) onReply(ev replyEvent) bool {
	if ev.err != nil {
		if errors.Is(ev.err, io.EOF) || errors.Is(ev.err, net.ErrClosed) {
			s.log.Info("server closed the connection")
		} else {
			s.log.Warn("server connection", "err", ev.err)
		}
		s.flushHold()
		if len(s.pending) > 0 && s.pending[0].kind != pendQuit {
			s.writeReply(421, "Server closed the connection.")
		}
		return false
	}
	rep := ev.rep
	s.logReply(rep)
	if len(s.pending) == 0 || rep.Code < 200 {
		return s.writeRaw(appendReply(nil, rep))
	}
	p := s.pending[0]
	s.pending = s.pending[1:]
	ok := s.finish(p, rep)
	for ok && len(s.pending) > 0 && s.pending[0].kind == pendLocal {
		ok = s.writeRaw(s.pending[0].local)
		s.pending = s.pending[1:]
	}
	return ok
}

func (s *session) flushHold() {
	if s.hold != nil {
		s.hold = nil
		buf := s.holdBuf
		s.holdBuf = nil
		s.writeRaw(buf)
	}
}

func (s *session) finish(p *pending, rep ftpwire.Reply) bool {
	switch p.kind {
	case pendSetup:
		return s.finishSetup(p, rep)
	case pendTransfer:
		if p.d != nil && p.d == s.transfer {
			s.transfer = nil
			if rep.Code/100 != 2 {
				p.d.abort()
			} else if !p.d.finished {
				// The server is done; the client gets the reply once
				// the proxy has delivered the last byte.
				s.hold = p.d
			}
		}
	case pendFeat:
		rep = s.features(rep)
	case pendPass:
		if rep.Code == 230 {
			s.loggedIn = true
			s.log.Info("logged in", "user", s.user, "server", s.backendRemote.String())
		}
		s.loginResult(rep.Code)
	case pendQuit:
		s.writeRaw(appendReply(nil, rep))
		return false
	}
	return s.writeRaw(appendReply(nil, rep))
}

// reply sends a locally generated reply in order: now when nothing is
// waiting for the backend, else behind what is.
func (s *session) reply(code int, lines ...string) bool {
	b := ftpwire.AppendReply(nil, code, lines...)
	s.logLocalReply(code, lines)
	if len(s.pending) > 0 {
		s.pending = append(s.pending, &pending{kind: pendLocal, local: b})
		return true
	}
	return s.writeRaw(b)
}

// writeReply writes a local reply at once (before the relay starts).
func (s *session) writeReply(code int, lines ...string) bool {
	s.logLocalReply(code, lines)
	return s.writeRaw(ftpwire.AppendReply(nil, code, lines...))
}

func (s *session) writeRaw(b []byte) bool {
	if s.hold != nil {
		s.holdBuf = append(s.holdBuf, b...)
		return true
	}
	_ = s.client.SetWriteDeadline(time.Now().Add(s.opts.DataTimeout))
	if _, err := s.client.Write(b); err != nil {
		s.log.Debug("write to client", "err", err)
		return false
	}
	return true
}

// send relays a command to the backend and records what waits for its
// reply.
func (s *session) send(line string, p *pending) bool {
	s.logCommand(">server", line)
	_ = s.backend.SetWriteDeadline(time.Now().Add(s.opts.DataTimeout))
	if _, err := s.backend.Write([]byte(line + "\r\n")); err != nil {
		s.log.Warn("write to server", "err", err)
		s.writeReply(421, "Lost the connection to the server.")
		return false
	}
	s.pending = append(s.pending, p)
	return true
}

// appendReply writes a relayed reply keeping its lines as the server sent
// them, except that a middle line that would end the reply early is
// indented.
func appendReply(b []byte, rep ftpwire.Reply) []byte {
	if len(rep.Lines) <= 1 {
		return ftpwire.AppendReply(b, rep.Code, rep.Lines...)
	}
	code := strconv.Itoa(rep.Code)
	last := len(rep.Lines) - 1
	for i, l := range rep.Lines {
		l = strings.ReplaceAll(l, "\r", " ")
		switch {
		case i == 0:
			b = append(b, code...)
			b = append(b, '-')
		case i == last:
			b = append(b, code...)
			b = append(b, ' ')
		case strings.HasPrefix(l, code+" ") || l == code:
			b = append(b, ' ')
		}
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return b
}

// logCommand logs a command at -v, PASS masked.
func (s *session) logCommand(dir, line string) {
	if !s.opts.Verbose {
		return
	}
	if v, _, _ := strings.Cut(line, " "); strings.EqualFold(v, "PASS") {
		line = "PASS ****"
	}
	s.log.Info("command", "dir", dir, "line", line)
}

func (s *session) logReply(rep ftpwire.Reply) {
	if s.opts.Verbose {
		s.log.Info("reply", "dir", "<server", "code", rep.Code, "text", rep.Text())
	}
}

func (s *session) logLocalReply(code int, lines []string) {
	if s.opts.Verbose {
		s.log.Info("reply", "dir", "proxy>", "code", code, "text", strings.Join(lines, "\n"))
	}
}
