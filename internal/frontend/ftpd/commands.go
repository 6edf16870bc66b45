package ftpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
	"github.com/ferrymft/ferry/internal/vpath"
)

// commandNames lists every command the server knows, for HELP.
func commandNames() []string {
	return []string{
		"ABOR", "ACCT", "ALLO", "APPE", "AUTH", "AVBL", "CCC", "CDUP", "CLNT", "COMB", "CWD", "DELE",
		"EPRT", "EPSV", "FEAT", "HASH", "HELP", "HOST", "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST",
		"MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "REIN",
		"REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STAT", "STOR", "STOU", "STRU", "SYST",
		"TYPE", "USER", "XCRC", "XCUP", "XCWD", "XMD5", "XMKD", "XPWD", "XRMD", "XSHA", "XSHA1",
		"XSHA256", "XSHA512",
	}
}

// dispatch runs one command; it returns false when the session ends.
func (c *conn) dispatch(cmd ftpwire.Command) bool {
	arg := cmd.Arg
	if cmd.Verb != "PASS" {
		c.log.Debug("command", "cmd", cmd.String())
	}
	// Commands allowed before login.
	switch cmd.Verb {
	case "QUIT":
		c.reply(221, "Goodbye.")
		return false
	case "USER":
		c.cmdUser(arg)
		return true
	case "PASS":
		c.cmdPass(arg)
		return true
	case "AUTH":
		c.cmdAuth(arg)
		return true
	case "PBSZ":
		c.cmdPbsz(arg)
		return true
	case "PROT":
		c.cmdProt(arg)
		return true
	case "CCC":
		c.cmdCCC()
		return true
	case "FEAT":
		c.reply(211, c.features()...)
		return true
	case "SYST":
		c.reply(215, "UNIX Type: L8")
		return true
	case "NOOP":
		c.reply(200, "NOOP ok.")
		return true
	case "HELP":
		c.cmdHelp(arg)
		return true
	case "OPTS":
		c.cmdOpts(arg)
		return true
	case "HOST":
		if c.sess != nil {
			c.reply(503, "HOST must come before login.")
		} else {
			c.reply(220, "Host accepted.")
		}
		return true
	case "CLNT":
		c.reply(200, "Noted.")
		return true
	case "ACCT":
		c.reply(502, "ACCT not implemented.")
		return true
	case "REIN":
		c.cmdRein()
		return true
	case "ABOR":
		c.reply(225, "No transfer to abort.")
		return true
	}
	if !slices.Contains(commandNames(), cmd.Verb) {
		c.preLoginGarbage()
		c.reply(500, fmt.Sprintf("Unknown command %q.", cmd.Verb))
		return true
	}
	if c.sess == nil {
		c.reply(530, "Please login with USER and PASS.")
		return true
	}
	switch cmd.Verb {
	case "RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD", "HASH":
		// REST applies to the next transfer command only.
		defer func() { c.rest = 0 }()
	}
	if cmd.Verb != "RNTO" && cmd.Verb != "RNFR" {
		c.rnfr = ""
	}
	c.dispatchSession(cmd.Verb, arg)
	return true
}

// dispatchSession runs the commands that need a logged-in session.
func (c *conn) dispatchSession(verb, arg string) {
	switch verb {
	case "PWD", "XPWD":
		c.reply(257, quotePath(c.cwd)+" is the current directory.")
	case "CWD", "XCWD":
		c.cmdCwd(arg)
	case "CDUP", "XCUP":
		c.cmdCwd("..")
	case "MKD", "XMKD":
		c.cmdMkd(arg)
	case "RMD", "XRMD":
		c.pathOp(arg, c.sess.Rmdir, 250, "Directory removed.")
	case "DELE":
		c.pathOp(arg, c.sess.Remove, 250, "File deleted.")
	case "RNFR":
		c.cmdRnfr(arg)
	case "RNTO":
		c.cmdRnto(arg)
	case "SIZE":
		c.cmdSize(arg)
	case "MDTM":
		c.cmdMdtm(arg)
	case "MFMT":
		c.cmdMfmt(arg)
	case "TYPE":
		c.cmdType(arg)
	case "MODE":
		c.oneOf(arg, "S", "Mode S ok.", "Only MODE S (stream) is supported.")
	case "STRU":
		c.oneOf(arg, "F", "Structure F ok.", "Only STRU F (file) is supported.")
	case "ALLO":
		c.reply(202, "No storage allocation necessary.")
	case "REST":
		c.cmdRest(arg)
	case "PASV":
		c.cmdPasv(false, arg)
	case "EPSV":
		c.cmdPasv(true, arg)
	case "PORT":
		c.cmdPort(false, arg)
	case "EPRT":
		c.cmdPort(true, arg)
	case "RETR":
		c.cmdRetr(arg)
	case "STOR":
		c.cmdStor(arg, false)
	case "APPE":
		c.cmdStor(arg, true)
	case "STOU":
		c.cmdStou(arg)
	case "LIST":
		c.cmdList(arg, listLong)
	case "NLST":
		c.cmdList(arg, listNames)
	case "MLSD":
		c.cmdList(arg, listMLSD)
	case "MLST":
		c.cmdMlst(arg)
	case "STAT":
		c.cmdStat(arg)
	case "SITE":
		c.cmdSite(arg)
	case "AVBL":
		c.cmdAvbl(arg)
	case "HASH":
		c.cmdHash(arg)
	case "XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512":
		c.cmdXHash(verb, arg)
	case "COMB":
		c.cmdComb(arg)
	default:
		c.reply(502, fmt.Sprintf("Command %s not implemented.", verb))
	}
}

func (c *conn) oneOf(arg, want, ok, no string) {
	if strings.EqualFold(strings.TrimSpace(arg), want) {
		c.reply(200, ok)
		return
	}
	if arg == "" {
		c.reply(501, "Missing argument.")
		return
	}
	c.reply(504, no)
}

// tlsRequired reports whether the service demands TLS before login.
func (c *conn) tlsRequired() bool {
	m := c.srv.opts.TLSMode
	return m == TLSRequired || m == TLSControlOnly || m == TLSImplicit ||
		c.srv.opts.ClientCerts == ClientCertRequired || c.srv.opts.CertLogin == CertLoginCertPassword
}

// dataTLSRequired reports whether data connections must be protected.
func (c *conn) dataTLSRequired() bool {
	m := c.srv.opts.TLSMode
	return m == TLSRequired || m == TLSImplicit
}

func (c *conn) cmdUser(arg string) {
	if c.sess != nil {
		c.reply(530, "Already logged in; use REIN to change user.")
		return
	}
	if arg == "" {
		c.reply(501, "USER needs a user name.")
		return
	}
	if c.tlsRequired() && c.tlsCtl == nil {
		c.reply(530, "This server requires encryption: use AUTH TLS before USER.")
		return
	}
	switch c.srv.opts.CertLogin {
	case CertLoginCert:
		if c.certCN != "" && arg == c.certCN {
			// The verified certificate names this user: no password.
			c.login(arg, core.LoginRequest{ClientCertCN: c.certCN, ClientCertPin: c.certPin}, 232, "authorized by certificate")
			c.certLogin = c.sess != nil
			return
		}
	case CertLoginCertPassword:
		if c.certCN == "" {
			c.reply(530, "This server requires a client certificate to log in.")
			return
		}
	}
	c.user = arg
	c.reply(331, "Password required for "+arg+".")
}

func (c *conn) cmdPass(arg string) {
	if c.sess != nil {
		if c.certLogin {
			// Clients that pipeline USER and PASS send PASS anyway.
			c.reply(230, "Already logged in by certificate.")
			return
		}
		c.reply(503, "Already logged in.")
		return
	}
	c.triedLogin = true
	if c.user == "" {
		c.reply(503, "Login with USER first.")
		return
	}
	user := c.user
	c.user = ""
	if strings.EqualFold(user, "anonymous") {
		user = "anonymous" // clients send it in any case (RFC 1635)
	}
	c.login(user, core.LoginRequest{Password: arg}, 230, "logged in")
}

// login asks core for a session with the credentials in req (password or
// certificate; with cert_login=cert+password both, in two steps) and
// replies code on success, a uniform 530 after a delay on failure.
func (c *conn) login(user string, req core.LoginRequest, code int, how string) {
	req.Protocol = ferry.FTP
	if c.tlsCtl != nil {
		req.Protocol = ferry.FTPS
	}
	req.User, req.Remote, req.Local = user, c.remote, c.dialled
	req.TLS, req.Service, req.Disconnect = c.tlsCtl != nil, c.srv.opts.Service, c.closeAll
	var sess *core.Session
	var err error
	if c.srv.opts.CertLogin == CertLoginCertPassword && req.Password != "" {
		first := req
		first.Password, first.ClientCertCN, first.ClientCertPin = "", c.certCN, c.certPin
		var g *core.Grant
		if g, err = c.srv.eng.Authenticate(c.ctx, first); err == nil {
			req.Prior = g
			if g, err = c.srv.eng.Authenticate(c.ctx, req); err == nil {
				sess, err = c.srv.eng.Open(c.ctx, g, req)
			}
		}
	} else {
		sess, err = c.srv.eng.Login(c.ctx, req)
	}
	if err != nil {
		if !errors.Is(err, ferry.ErrAuth) {
			c.log.Warn("login error", "user", user, "err", err)
		}
		t := time.NewTimer(c.srv.opts.FailDelay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
		if errors.Is(err, ferry.ErrLimit) {
			c.reply(530, "Too many sessions for this account or address; try again later.")
			return
		}
		c.reply(530, "Login incorrect.")
		return
	}
	c.sess, c.cwd = sess, "/"
	c.srv.setMark(c, sess.User().Name)
	c.log = sess.Logger().With("service", c.srv.opts.Service)
	c.reply(code, c.loginLines("User "+user+" "+how+".")...)
}

// loginLines is the 230 text: the login message, then last.
func (c *conn) loginLines(last string) []string {
	msg := strings.TrimRight(c.srv.opts.LoginMessage, "\r\n")
	if msg == "" {
		return []string{last}
	}
	return append(messageLines(msg), last)
}

func (c *conn) cmdRein() {
	c.closePasv()
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
		c.srv.setMark(c, "")
	}
	c.user, c.cwd, c.ascii, c.rest, c.rnfr, c.portSet, c.epsvAll = "", "/", false, 0, "", false, false
	c.certLogin = false
	c.start = time.Now()
	c.reply(220, "Service ready for new user.")
}

// tlsConfig is the control connection's TLS configuration; it takes the
// client CA pool now in force (Options.ClientCAPool) for this session.
func (c *conn) tlsConfig() *tls.Config {
	if f := c.srv.opts.ClientCAPool; f != nil {
		c.clientCAs.Store(f())
	}
	return c.sessionTLSConfig()
}

// sessionTLSConfig is the configuration shared by the session's control and
// data connections: the session's client CA pool, tickets marked as its own.
func (c *conn) sessionTLSConfig() *tls.Config {
	cfg := c.srv.opts.TLS.Clone()
	if pool := c.clientCAs.Load(); pool != nil {
		cfg.ClientCAs = pool
	}
	if c.ticket == nil {
		c.ticket = []byte("ferry-ctl:" + newID())
		c.srv.setMark(c, "")
	}
	mark := c.ticket
	base := c.srv.ticket
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, mark)
		return base.EncryptTicket(cs, ss)
	}
	return cfg
}

func (c *conn) cmdAuth(arg string) {
	mech := strings.ToUpper(strings.TrimSpace(arg))
	switch {
	case c.srv.opts.TLSMode == TLSOff:
		c.reply(502, "TLS is not enabled on this service.")
		return
	case mech != "TLS" && mech != "SSL" && mech != "TLS-C" && mech != "TLS-P":
		c.reply(504, "AUTH accepts TLS or SSL.")
		return
	case c.tlsCtl != nil:
		c.reply(503, "TLS already active.")
		return
	}
	c.reply(234, "AUTH "+mech+" ok, proceed with the handshake.")
	tc := tls.Server(c.raw, c.tlsConfig())
	_ = c.raw.SetDeadline(time.Now().Add(c.srv.opts.DataTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		c.raw.Close()
		return
	}
	_ = c.raw.SetDeadline(time.Time{})
	c.setTLS(tc)
	c.r = newReader(tc)
	// RFC 4217: a new security exchange resets the session.
	c.pbsz, c.protP = false, false
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
		c.srv.setMark(c, "")
	}
	c.user = ""
}

func (c *conn) cmdPbsz(arg string) {
	if c.tlsCtl == nil {
		c.reply(503, "PBSZ needs AUTH TLS first.")
		return
	}
	c.pbsz = true
	if strings.TrimSpace(arg) != "0" {
		c.reply(200, "PBSZ=0")
		return
	}
	c.reply(200, "PBSZ=0 ok.")
}

func (c *conn) cmdProt(arg string) {
	if c.tlsCtl == nil {
		c.reply(503, "PROT needs AUTH TLS first.")
		return
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		c.protP = true
		c.reply(200, "Protection level set to P.")
	case "C":
		if c.dataTLSRequired() {
			c.reply(534, "This server requires PROT P.")
			return
		}
		c.protP = false
		c.reply(200, "Protection level set to C.")
	case "S", "E":
		c.reply(536, "Only PROT C and P are supported.")
	default:
		c.reply(504, "PROT accepts C or P.")
	}
}

// cmdCCC returns the control connection to plain text (RFC 4217 §6):
// after the 200 the server sends close_notify and reads on in the clear.
func (c *conn) cmdCCC() {
	switch {
	case c.tlsCtl == nil:
		c.reply(533, "Control connection is not protected.")
		return
	case c.srv.opts.TLSMode == TLSImplicit:
		c.reply(534, "CCC is not allowed on implicit TLS.")
		return
	}
	c.reply(200, "Control connection is now plain text.")
	_ = c.tlsCtl.CloseWrite()
	c.tlsCtl, c.ctl = nil, c.raw
	c.wmu.Lock()
	c.w.Reset(c.raw)
	c.wmu.Unlock()
	c.r = newReader(&alertSkipper{r: c.raw})
}

func (c *conn) cmdHelp(arg string) {
	if arg != "" {
		verb := strings.ToUpper(strings.TrimSpace(arg))
		if slices.Contains(commandNames(), verb) {
			c.reply(214, "Syntax: "+verb+" (see RFC 959 and its extensions).")
		} else {
			c.reply(502, "Unknown command "+verb+".")
		}
		return
	}
	names := commandNames()
	lines := []string{"The following commands are recognized:"}
	for i := 0; i < len(names); i += 10 {
		lines = append(lines, strings.Join(names[i:min(i+10, len(names))], " "))
	}
	lines = append(lines, "Help OK.")
	c.reply(214, lines...)
}

func (c *conn) cmdOpts(arg string) {
	name, val, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		if strings.EqualFold(strings.TrimSpace(val), "OFF") {
			c.reply(200, "UTF8 mode stays on: paths are bytes.")
			return
		}
		c.reply(200, "Always in UTF8 mode.")
	case "MLST":
		f, text := ftpwire.ParseOptsMLST(val)
		c.facts = f
		c.reply(200, text)
	case "HASH":
		if val == "" {
			c.reply(200, hashName(c.hashAlgo))
			return
		}
		algo, ok := hashAlgo(val)
		if !ok {
			c.reply(501, "Unknown algorithm; accepted: "+strings.Join(hashNames(), ", ")+".")
			return
		}
		c.hashAlgo = algo
		c.reply(200, hashName(algo))
	default:
		c.reply(501, "OPTS accepts UTF8, MLST and HASH.")
	}
}

func (c *conn) features() []string {
	f := []string{"Features:"}
	if c.srv.opts.TLSMode != TLSOff {
		f = append(f, "AUTH TLS", "AUTH SSL", "PBSZ", "PROT", "CCC")
	}
	f = append(f, "AVBL", "CLNT", "COMB", "EPRT", "EPSV", "HOST", "MDTM", "MFMT", "REST STREAM", "SIZE",
		"TVFS", "UTF8", ftpwire.FeatMLST(c.facts))
	var hs []string
	for _, n := range hashNames() {
		if hashAlgoOf(n) == c.hashAlgo {
			n += "*"
		}
		hs = append(hs, n)
	}
	f = append(f, "HASH "+strings.Join(hs, ";"), "XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512")
	if c.srv.opts.AllowSiteSymlink {
		f = append(f, "SITE SYMLINK")
	}
	f = append(f, "SITE CHMOD", "End")
	return f
}

// quotePath quotes a path for 257 replies, doubling embedded quotes.
func quotePath(p string) string {
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}

func joinPath(cwd, arg string) (string, error) {
	return vpath.Join(cwd, arg)
}
