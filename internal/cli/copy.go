package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// remoteFlags are the connection flags of copy, ls and rm. None of them
// needs a data directory.
type remoteFlags struct {
	passwordStdin bool
	identity      string
	insecure      bool
	knownHosts    string
	hostKey       string
	active        bool
	timeout       time.Duration
	password      string // read once
}

func (rf *remoteFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&rf.passwordStdin, "password-stdin", false, "read the remote password from the first line of stdin (else env FERRY_REMOTE_PASSWORD, else the URL)")
	f.StringVar(&rf.identity, "identity", "", "SSH private key file for sftp:// (passphrase from env FERRY_IDENTITY_PASSPHRASE)")
	f.BoolVar(&rf.insecure, "insecure", false, "accept any TLS certificate and any SSH host key")
	f.StringVar(&rf.knownHosts, "known-hosts", "", "known_hosts file for sftp:// (default ~/.ssh/known_hosts; unknown hosts are added on first use)")
	f.StringVar(&rf.hostKey, "host-key", "", "pin the SSH host key by fingerprint (SHA256:…, as ssh-keygen -lf prints)")
	f.BoolVar(&rf.active, "ftp-active", false, "FTP active mode (PORT/EPRT) instead of passive")
	f.DurationVar(&rf.timeout, "timeout", 30*time.Second, "connect and reply timeout")
}

// options reads the password and key once and returns the dial options.
func (rf *remoteFlags) options(e *env) (remote.Options, error) {
	o := remote.Options{Insecure: rf.insecure, HostKey: rf.hostKey, Active: rf.active, Timeout: rf.timeout}
	if rf.passwordStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return o, usagef("--password-stdin: no password on stdin")
		}
		o.Password = strings.TrimRight(line, "\r\n")
	} else if p := e.getenv("FERRY_REMOTE_PASSWORD"); p != "" {
		o.Password = p
	}
	if rf.identity != "" {
		b, err := os.ReadFile(rf.identity)
		if err != nil {
			return o, usagef("--identity: %v", err)
		}
		o.Identity = b
		if p := e.getenv("FERRY_IDENTITY_PASSPHRASE"); p != "" {
			o.IdentityPass = []byte(p)
		}
	}
	o.KnownHosts = rf.knownHosts
	if o.KnownHosts == "" {
		if home, err := os.UserHomeDir(); err == nil {
			o.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	o.OnNewHostKey = func(host, fp string) {
		fmt.Fprintf(e.stderr, "ferry: added %s host key %s to %s\n", host, fp, o.KnownHosts)
	}
	return o, nil
}

func parseLocations(args []string) ([]remote.Location, error) {
	out := make([]remote.Location, 0, len(args))
	for _, a := range args {
		l, err := remote.Parse(a)
		if err != nil {
			return nil, usagef("%v", err)
		}
		out = append(out, l)
	}
	return out, nil
}

// newCopyCmds returns copy, ls and rm.
func newCopyCmds(e *env) []*cobra.Command {
	return []*cobra.Command{newCopyCmd(e), newLsCmd(e), newRmCmd(e)}
}

func newCopyCmd(e *env) *cobra.Command {
	var (
		rf       remoteFlags
		o        transfer.Options
		quiet    bool
		progress string
	)
	c := &cobra.Command{
		Use:   "copy SRC... DST",
		Short: "Copy files between local folders and ftp(s)://, sftp://, webdav(s)://, http(s):// locations",
		Long: `Copy files between any two locations: local paths, ftp://, ftps:// (explicit TLS),
ftps-implicit://, sftp://, webdav://, webdavs://, and http(s):// (download only).
Files are written under a temporary name (NAME.ferry-part) and renamed on success;
an interrupted copy resumes from the temporary file. Exit codes: 0 every file
copied, 1 some failed, 2 usage error. See docs/copy.md.`,
		Example: `  ferry copy ./out/*.csv sftp://partner@sftp.example.com/in/
  ferry copy --recursive ftps://bank@ftp.bank.example/outbox/ ./inbox/ --password-stdin < pw.txt`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("%s: expected SRC... DST, got %d argument(s)", c.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			switch o.Verify {
			case transfer.VerifyAuto, transfer.VerifySize, transfer.VerifyHash, transfer.VerifyNone:
			default:
				return usagef("--verify %q: accepted values are auto, size, hash, none", o.Verify)
			}
			if o.Retries < 0 {
				return usagef("--retries must be 0 or more")
			}
			ro, err := rf.options(e)
			if err != nil {
				return err
			}
			la, err := e.locationArgs(c, args, ro)
			if err != nil {
				return err
			}
			defer la.done()
			if la.res != nil {
				// As in managed transfers: repeated transient errors on
				// a stored location move the next attempts to its backup.
				la.res.Hook(&o)
			}
			o.Dial = la.dial // URLs given in full use the command's flags
			locs := la.locs
			if !quiet {
				o.Progress = newProgress(e, progress)
			}
			cp := transfer.New(o)
			defer cp.Close()
			results, err := cp.Copy(c.Context(), locs[:len(locs)-1], locs[len(locs)-1])
			if err != nil {
				var ue transfer.UsageError
				if errors.As(err, &ue) {
					return usagef("%v", ue.Err)
				}
				return err
			}
			return summarize(e, results, quiet)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.Recursive, "recursive", "r", false, "copy directories and their contents (SRC/ copies the contents, SRC the directory)")
	f.StringVar(&o.Verify, "verify", transfer.VerifyAuto, "verification: auto (hash where both servers offer one, else size), size, hash (required), none")
	f.BoolVar(&o.NoTemp, "no-temp", false, "write the final name directly (no temporary name and rename)")
	f.StringVar(&o.TempSuffix, "temp-suffix", transfer.DefaultTempSuffix, "suffix of the temporary name")
	f.BoolVar(&o.NoResume, "no-resume", false, "restart interrupted files from the beginning")
	f.BoolVar(&o.SkipExisting, "skip-existing", false, "skip files whose destination already has the same size")
	f.BoolVar(&o.RemoveSource, "remove-source", false, "delete each source file after its verified copy (move)")
	f.IntVar(&o.Retries, "retries", 2, "retries per file after a transient failure (with backoff, resuming)")
	f.Var(&rateFlag{&o.RateLimit}, "limit-rate", "bandwidth cap in bytes per second, with an optional K, M or G suffix (powers of 1024)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only errors")
	f.StringVar(&progress, "progress", "auto", "progress display: auto (a bar on a terminal), bar, plain, none")
	rf.add(c)
	return c
}

// summarize prints one line per file and the exit status.
func summarize(e *env, results []transfer.Result, quiet bool) error {
	var failed, done, skipped int
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(e.stderr, "ferry: %s\n", oneLine(r.Err))
			continue
		case r.Failover != "":
			// Not an error, but whoever runs the script must know the
			// primary server did not take the file (even with --quiet).
			fmt.Fprintf(e.stderr, "ferry: %s: via backup %s\n", r.Src, r.Failover)
		}
		switch {
		case r.Skipped:
			skipped++
			if !quiet {
				fmt.Fprintf(e.stdout, "skipped %s (already at %s)\n", r.Src, r.Dst)
			}
		default:
			done++
			if !quiet {
				fmt.Fprintf(e.stdout, "copied %s -> %s (%s)\n", r.Src, r.Dst, detail(r))
			}
		}
	}
	if len(results) > 1 && !quiet {
		fmt.Fprintf(e.stdout, "%d copied, %d skipped, %d failed\n", done, skipped, failed)
	}
	if failed > 0 {
		return errSilent{fmt.Errorf("%d of %d files failed", failed, len(results))}
	}
	if len(results) == 0 {
		return errors.New("nothing to copy")
	}
	return nil
}

// errSilent exits 1 with its one-line message.
type errSilent struct{ error }

func detail(r transfer.Result) string {
	parts := []string{fmt.Sprintf("%d bytes", r.Size)}
	if r.Resumed > 0 {
		parts = append(parts, fmt.Sprintf("resumed at %d", r.Resumed))
	}
	if r.Hash != "" {
		parts = append(parts, "verified "+r.Hash)
	} else {
		parts = append(parts, "size verified")
	}
	if r.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts", r.Attempts))
	}
	if s := r.Elapsed.Seconds(); s > 0 && r.Size > 0 {
		parts = append(parts, humanBytes(float64(r.Size-r.Resumed)/s)+"/s")
	}
	return strings.Join(parts, ", ")
}

func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// progress on a terminal: one redrawn line per file.
type barProgress struct {
	w          io.Writer
	name       string
	size, done int64
	start      time.Time
	last       time.Time
}

func newProgress(e *env, mode string) transfer.Progress {
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	switch {
	case mode == "bar" || mode == "auto" && tty:
		return &barProgress{w: e.stderr}
	case mode == "plain":
		return &plainProgress{w: e.stderr}
	}
	return nil
}

func (b *barProgress) Start(src string, size, off int64) {
	b.name, b.size, b.done, b.start, b.last = path.Base(src), size, off, time.Now(), time.Time{}
	b.draw(true)
}

func (b *barProgress) Add(n int64) {
	b.done += n
	b.draw(false)
}

func (b *barProgress) draw(force bool) {
	now := time.Now()
	if !force && now.Sub(b.last) < 200*time.Millisecond {
		return
	}
	b.last = now
	pct := 100.0
	if b.size > 0 {
		pct = float64(b.done) * 100 / float64(b.size)
	}
	const width = 24
	filled := min(int(pct*width/100), width)
	rate := 0.0
	if el := now.Sub(b.start).Seconds(); el > 0 {
		rate = float64(b.done) / el
	}
	name := b.name
	if len(name) > 30 {
		name = name[:29] + "…"
	}
	fmt.Fprintf(b.w, "\r%-30s [%s%s] %5.1f%% %10s %10s/s", name, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), pct, humanBytes(float64(b.done)), humanBytes(rate))
}

func (b *barProgress) Done(transfer.Result) { fmt.Fprint(b.w, "\r\033[K") }

// plainProgress writes a line when a file starts (for logs, not terminals).
type plainProgress struct{ w io.Writer }

func (p *plainProgress) Start(src string, size, off int64) {
	if off > 0 {
		fmt.Fprintf(p.w, "copying %s (%d bytes, resuming at %d)\n", src, size, off)
		return
	}
	fmt.Fprintf(p.w, "copying %s (%d bytes)\n", src, size)
}
func (p *plainProgress) Add(int64)            {}
func (p *plainProgress) Done(transfer.Result) {}

func newLsCmd(e *env) *cobra.Command {
	var (
		rf      remoteFlags
		long    bool
		jsonOut bool
	)
	c := &cobra.Command{
		Use:   "ls URL",
		Short: "List a remote (or local) directory",
		Args:  exactArgs(1, "URL"),
		RunE: func(c *cobra.Command, args []string) error {
			ro, err := rf.options(e)
			if err != nil {
				return err
			}
			la, err := e.locationArgs(c, args, ro)
			if err != nil {
				return err
			}
			defer la.done()
			l := la.locs[0]
			f, err := la.dial(c.Context(), l)
			if err != nil {
				return fmt.Errorf("%s: %w", l, err)
			}
			defer f.Close()
			st, err := f.Stat(c.Context(), l.Path)
			if err != nil {
				return fmt.Errorf("%s: %w", l, err)
			}
			es := []remote.Entry{st}
			if st.Dir {
				if es, err = f.List(c.Context(), l.Path); err != nil {
					return fmt.Errorf("%s: %w", l, err)
				}
			}
			sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
			return printEntries(e, es, long, jsonOut)
		},
	}
	c.Flags().BoolVarP(&long, "long", "l", false, "show type, size and modification time")
	c.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	rf.add(c)
	return c
}

func printEntries(e *env, es []remote.Entry, long, jsonOut bool) error {
	if jsonOut {
		type row struct {
			Name    string     `json:"name"`
			Size    int64      `json:"size"`
			Dir     bool       `json:"dir"`
			ModTime *time.Time `json:"mtime,omitempty"`
		}
		rows := make([]row, 0, len(es))
		for _, x := range es {
			r := row{Name: x.Name, Size: x.Size, Dir: x.Dir}
			if !x.ModTime.IsZero() {
				t := x.ModTime.UTC()
				r.ModTime = &t
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	for _, x := range es {
		name := x.Name
		if x.Dir {
			name += "/"
		}
		if !long {
			fmt.Fprintln(e.stdout, name)
			continue
		}
		kind, mt := "-", "-"
		if x.Dir {
			kind = "d"
		}
		if !x.ModTime.IsZero() {
			mt = x.ModTime.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(e.stdout, "%s %12d %19s %s\n", kind, x.Size, mt, name)
	}
	return nil
}

func newRmCmd(e *env) *cobra.Command {
	var (
		rf        remoteFlags
		recursive bool
	)
	c := &cobra.Command{
		Use:   "rm URL...",
		Short: "Remove remote (or local) files; directories with --recursive",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s: expected at least one URL", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ro, err := rf.options(e)
			if err != nil {
				return err
			}
			la, err := e.locationArgs(c, args, ro)
			if err != nil {
				return err
			}
			defer la.done()
			failed := 0
			for _, l := range la.locs {
				if err := removeLocation(c.Context(), l, la.dial, recursive); err != nil {
					failed++
					fmt.Fprintf(e.stderr, "ferry: %s\n", oneLine(err))
				}
			}
			if failed > 0 {
				return errSilent{fmt.Errorf("%d of %d removals failed", failed, len(la.locs))}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove directories and their contents")
	rf.add(c)
	return c
}

func removeLocation(ctx context.Context, l remote.Location, dial dialFunc, recursive bool) error {
	f, err := dial(ctx, l)
	if err != nil {
		return fmt.Errorf("%s: %w", l, err)
	}
	defer f.Close()
	targets := []string{l.Path}
	if base := path.Base(l.Path); strings.ContainsAny(base, "*?[") {
		dir := path.Dir(l.Path)
		if l.Scheme == "file" {
			dir = filepath.Dir(l.Path)
		}
		es, err := f.List(ctx, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", l, err)
		}
		targets = targets[:0]
		for _, x := range es {
			if ok, _ := path.Match(base, x.Name); ok {
				targets = append(targets, l.Join("..", x.Name).Path)
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("%s: no file matches: %w", l, fs.ErrNotExist)
		}
	}
	for _, p := range targets {
		shown := l
		if p != l.Path {
			shown = l.Join("..", path.Base(p))
		}
		if err := removeTree(ctx, f, p, recursive); err != nil {
			return fmt.Errorf("%s: %w", shown, err)
		}
	}
	return nil
}

func removeTree(ctx context.Context, f remote.FS, p string, recursive bool) error {
	st, err := f.Stat(ctx, p)
	if err != nil {
		return err
	}
	if !st.Dir {
		return f.Remove(ctx, p)
	}
	if !recursive {
		return fmt.Errorf("is a directory (use --recursive)")
	}
	es, err := f.List(ctx, p)
	if err != nil {
		return err
	}
	for _, x := range es {
		if err := removeTree(ctx, f, path.Join(p, x.Name), true); err != nil {
			return err
		}
	}
	return f.Rmdir(ctx, p)
}

// rateFlag parses "500K", "10M", "1G" or a plain byte count.
type rateFlag struct{ v *int64 }

func (r *rateFlag) String() string {
	if r.v == nil || *r.v == 0 {
		return "0"
	}
	return strconv.FormatInt(*r.v, 10)
}

func (r *rateFlag) Type() string { return "rate" }

func (r *rateFlag) Set(s string) error {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-min(len(s), 1):]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a byte rate such as 500K or 10M")
	}
	*r.v = n * mult
	return nil
}
