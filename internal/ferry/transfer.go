package ferry

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Events of managed transfers (published by the transfer scheduler, one of
// each per file).
const (
	EventTransferStarted   EventType = "transfer_started"
	EventTransferSucceeded EventType = "transfer_succeeded"
	EventTransferFailed    EventType = "transfer_failed"
)

// SealedPrefix starts every secret sealed for storage (secret.Box). The
// store refuses a Location whose secrets do not start with it, so a
// plaintext password can never reach the database by mistake.
const SealedPrefix = "sealed:v1:"

// LocationAuth is how Ferry logs in to a location.
type LocationAuth string

// Location auth kinds.
const (
	AuthNone     LocationAuth = "none"     // anonymous FTP, public HTTP, local folders
	AuthPassword LocationAuth = "password" // Password holds the sealed password
	AuthKey      LocationAuth = "key"      // PrivateKey holds the sealed OpenSSH key (SFTP)
)

// Location is a named remote endpoint: a URL (ftp://, ftps://,
// ftps-implicit://, sftp://, webdav(s)://, http(s)://, or a local folder)
// and what is needed to log in. Password and PrivateKey are sealed
// (SealedPrefix…); only whoever holds the data directory's secret key can
// open them.
type Location struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// URL carries no password; a user name is allowed.
	URL        string       `json:"url"`
	Auth       LocationAuth `json:"auth"`
	Password   string       `json:"-"`
	PrivateKey string       `json:"-"`
	// HostKey pins an SSH host key ("SHA256:…"); empty trusts on first
	// use and pins what it saw.
	HostKey string `json:"host_key,omitempty"`
	// Insecure skips TLS certificate and SSH host key checks.
	Insecure bool `json:"insecure,omitempty"`
	// Active uses FTP active mode instead of passive.
	Active bool `json:"active,omitempty"`
	// Failover names a backup location dialled, with its own URL and
	// credentials, when this one cannot be reached or refuses the login;
	// paths under this location's URL map to the same paths under the
	// backup's. One level: the backup's own failover is not followed.
	Failover    string    `json:"failover,omitempty"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

// Validate checks a location before it is stored.
func (l *Location) Validate() error {
	if err := ValidateName("location", l.Name); err != nil {
		return err
	}
	if l.URL == "" {
		return fmt.Errorf("%w: location %q: url is required", ErrInvalid, l.Name)
	}
	if _, rest, ok := strings.Cut(l.URL, "://"); ok {
		host, _, _ := strings.Cut(rest, "/")
		if userinfo, _, ok := strings.Cut(host, "@"); ok && strings.Contains(userinfo, ":") {
			return fmt.Errorf("%w: location %q: the url must not hold a password (use --password-stdin)", ErrInvalid, l.Name)
		}
	}
	switch l.Auth {
	case AuthNone:
		if l.Password != "" || l.PrivateKey != "" {
			return fmt.Errorf("%w: location %q: auth none with a secret", ErrInvalid, l.Name)
		}
	case AuthPassword, AuthKey:
		if l.Password == "" && l.PrivateKey == "" {
			return fmt.Errorf("%w: location %q: auth %s needs a secret", ErrInvalid, l.Name, l.Auth)
		}
	default:
		return fmt.Errorf("%w: location %q: auth %q: accepted values are none, password, key", ErrInvalid, l.Name, l.Auth)
	}
	for _, s := range []string{l.Password, l.PrivateKey} {
		if s != "" && !strings.HasPrefix(s, SealedPrefix) {
			return fmt.Errorf("%w: location %q: secrets must be sealed before they are stored", ErrInvalid, l.Name)
		}
	}
	if l.Failover != "" {
		if err := ValidateName("location", l.Failover); err != nil {
			return fmt.Errorf("location %q: failover: %w", l.Name, err)
		}
		if l.Failover == l.Name {
			return fmt.Errorf("%w: location %q: failover: a location cannot be its own backup", ErrInvalid, l.Name)
		}
	}
	if l.HostKey != "" && !strings.HasPrefix(l.HostKey, "SHA256:") {
		return fmt.Errorf("%w: location %q: host key %q: want SHA256:… (ssh-keygen -lf)", ErrInvalid, l.Name, l.HostKey)
	}
	return nil
}

// Verify modes of a transfer (as `ferry copy --verify`).
var VerifyModes = []string{"auto", "size", "hash", "none"}

// Conflict modes of a transfer: what to do when the destination file
// exists.
var ConflictModes = []string{"overwrite", "skip", "rename"}

// MaxParallel caps Transfer.Parallel.
const MaxParallel = 64

// Transfer is a stored definition of files to move, run by `ferry serve`
// on a schedule (Every or Cron), by watching its source (Watch), or on
// demand (`ferry transfer run`). Source and Dest are location specs:
// "location:NAME/path", a URL without a password, or a local path.
type Transfer struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"` // a directory
	Dest   string `json:"dest"`   // a directory
	// Pattern selects files by base name (a path.Match glob; "" all).
	Pattern string `json:"pattern,omitempty"`
	// Exclude are globs on the base name or on the path under Source;
	// matching files and folders are never picked.
	Exclude   []string `json:"exclude,omitempty"`
	Recursive bool     `json:"recursive,omitempty"`
	// Triggers: at most one of Every, Cron, Watch, OnUpload; none means
	// on demand.
	Every time.Duration `json:"every,omitempty"`
	Cron  string        `json:"cron,omitempty"`
	Watch bool          `json:"watch,omitempty"`
	// OnUpload, "USER:GLOB", delivers each file USER uploads to a virtual
	// path matching GLOB (path.Match; a trailing "/**" matches everything
	// below) as soon as the upload completes. Source is then empty: the
	// files are read from the user's home, and a run on demand (or at
	// start, for a move or archive) picks up what matches and is left.
	OnUpload string `json:"on_upload,omitempty"`
	// MinAge skips files modified more recently than this.
	MinAge time.Duration `json:"min_age,omitempty"`
	// After success: delete the source, or move it to ArchiveTo (a
	// directory on the source side, relative to Source unless absolute).
	DeleteSource bool   `json:"delete_source,omitempty"`
	ArchiveTo    string `json:"archive_to,omitempty"`
	// FailedTo, when set, receives (on the source side, like ArchiveTo)
	// a file whose copy still failed after its retries, so later runs do
	// not pick it again.
	FailedTo string `json:"failed_to,omitempty"`
	// OnConflict is what happens when the destination file exists:
	// ConflictModes; "" is overwrite.
	OnConflict string `json:"on_conflict,omitempty"`
	// Parallel is how many files are copied at once (0 and 1: one).
	Parallel int `json:"parallel,omitempty"`
	// RateLimit caps the run's bandwidth in bytes per second (0: none).
	RateLimit   int64  `json:"rate_limit,omitempty"`
	Verify      string `json:"verify,omitempty"`  // VerifyModes; "" is auto
	Retries     int    `json:"retries,omitempty"` // per file, after a transient failure
	Disabled    bool   `json:"disabled,omitempty"`
	Description string `json:"description,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Validate checks a transfer before it is stored. The cron expression's
// syntax is checked by the scheduler's parser (callers).
func (t *Transfer) Validate() error {
	if err := ValidateName("transfer", t.Name); err != nil {
		return err
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: transfer %q: %s: %s", ErrInvalid, t.Name, field, fmt.Sprintf(format, a...))
	}
	if t.OnUpload != "" {
		if _, _, err := t.UploadTrigger(); err != nil {
			return bad("on_upload", "%v", err)
		}
		if t.Source != "" {
			return bad("source", "an on_upload transfer reads the uploaded files: leave source empty")
		}
	} else if t.Source == "" {
		return bad("source/dest", "both are required")
	}
	if t.Dest == "" {
		return bad("source/dest", "both are required")
	}
	n := 0
	for _, b := range []bool{t.Every > 0, t.Cron != "", t.Watch, t.OnUpload != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return bad("trigger", "give one of every, cron, watch and on_upload")
	}
	if t.Every < 0 || (t.Every > 0 && t.Every < time.Second) {
		return bad("every", "%v: must be at least 1s", t.Every)
	}
	if t.MinAge < 0 {
		return bad("min_age", "must not be negative")
	}
	if t.Pattern != "" {
		if _, err := path.Match(t.Pattern, ""); err != nil {
			return bad("pattern", "%q: %v", t.Pattern, err)
		}
	}
	for _, g := range t.Exclude {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return bad("exclude", "%q: not a glob", g)
		}
	}
	if t.OnConflict != "" && !slices.Contains(ConflictModes, t.OnConflict) {
		return bad("on_conflict", "%q: accepted values are overwrite, skip, rename", t.OnConflict)
	}
	if t.Parallel < 0 || t.Parallel > MaxParallel {
		return bad("parallel", "%d: must be 1 to %d", t.Parallel, MaxParallel)
	}
	if t.RateLimit < 0 {
		return bad("rate_limit", "must not be negative")
	}
	if t.FailedTo != "" && (t.FailedTo == t.ArchiveTo || path.Clean(t.FailedTo) == ".") {
		return bad("failed_to", "%q: must be a folder of its own", t.FailedTo)
	}
	if t.DeleteSource && t.ArchiveTo != "" {
		return bad("after", "give delete_source or archive_to, not both")
	}
	if t.Verify != "" {
		ok := false
		for _, v := range VerifyModes {
			ok = ok || v == t.Verify
		}
		if !ok {
			return bad("verify", "%q: accepted values are auto, size, hash, none", t.Verify)
		}
	}
	if t.Retries < 0 || t.Retries > 100 {
		return bad("retries", "%d: must be 0 to 100", t.Retries)
	}
	return nil
}

// UploadTrigger splits OnUpload ("USER:GLOB") into the user and the glob
// on virtual paths.
func (t *Transfer) UploadTrigger() (user, glob string, err error) {
	user, glob, ok := strings.Cut(t.OnUpload, ":")
	if !ok || user == "" || !strings.HasPrefix(glob, "/") {
		return "", "", fmt.Errorf("%q: want USER:/path/glob (alice:/in/*)", t.OnUpload)
	}
	if _, err := path.Match(strings.TrimSuffix(glob, "/**"), ""); err != nil {
		return "", "", fmt.Errorf("%q: %v", glob, err)
	}
	return user, glob, nil
}

// MatchUpload reports whether a file user uploaded to the virtual path p
// triggers t.
func (t *Transfer) MatchUpload(user, p string) bool {
	u, glob, err := t.UploadTrigger()
	if err != nil || u != user {
		return false
	}
	if dir, ok := strings.CutSuffix(glob, "/**"); ok {
		return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
	}
	ok, _ := path.Match(glob, p)
	return ok
}

// UploadRoot is the folder of the on_upload glob that holds no pattern
// ("/in" for "/in/*.csv"): the folder whose layout the destination keeps.
func (t *Transfer) UploadRoot() string {
	_, glob, _ := t.UploadTrigger()
	dir := path.Dir(glob)
	if d, ok := strings.CutSuffix(glob, "/**"); ok {
		dir = path.Clean("/" + d)
	}
	for strings.ContainsAny(dir, "*?[") {
		dir = path.Dir(dir)
	}
	return dir
}

// Transfer file outcomes in the history.
const (
	TransferOK     = "succeeded"
	TransferFailed = "failed"
	// TransferRemoving is a moved file copied and verified whose source
	// is being removed (or archived): the row is written before the source
	// goes, so a crash in between loses no record; it becomes TransferOK
	// (or TransferFailed) once the source is dealt with, at the latest on
	// the transfer's next run.
	TransferRemoving = "removing"
)

// TransferRecord is one file a transfer moved (or failed to), kept in the
// history.
type TransferRecord struct {
	ID       int64         `json:"id"`
	Transfer string        `json:"transfer"`
	Source   string        `json:"source"` // display forms, no passwords
	Dest     string        `json:"dest"`
	Status   string        `json:"status"` // TransferOK, TransferFailed or TransferRemoving
	Bytes    int64         `json:"bytes"`
	Attempts int           `json:"attempts"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
	SHA256   string        `json:"sha256,omitempty"` // hex, when verified by hash
	// SourceRel is the file's path under the transfer's source folder
	// (slash-separated), kept so the next run can finish a move cut short
	// (TransferRemoving) whose source it cannot tell from Source alone: a
	// file read through a failover location, or an upload in a virtual
	// folder outside the on_upload root. Bookkeeping, not shown.
	SourceRel string `json:"-"`
}
