package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Locations stores the remote locations managed transfers connect to
// (docs/transfers.md). Secrets arrive here in clear and leave sealed:
// SealSecret seals one for the store, and no answer ever holds one.
type Locations interface {
	GetLocation(ctx context.Context, name string) (*ferry.Location, error)
	ListLocations(ctx context.Context, o ferry.ListOptions) ([]*ferry.Location, error)
	CreateLocation(ctx context.Context, l *ferry.Location) error
	UpdateLocation(ctx context.Context, l *ferry.Location) error
	DeleteLocation(ctx context.Context, name string) error
	// SealSecret seals a location's secret (field "password" or "key")
	// so that it opens for that location and field only.
	SealSecret(location, field, plain string) (string, error)
	// CheckLocation checks what the domain cannot: that the URL is one
	// Ferry can connect to. Errors wrap ferry.ErrInvalid.
	CheckLocation(l *ferry.Location) error
}

// HistoryQuery selects transfer history rows, newest first.
type HistoryQuery struct {
	Transfer string // "" for every transfer
	Status   string // "" for every status
	Limit    int
}

// Transfers stores managed transfers, their history, and starts runs.
type Transfers interface {
	GetTransfer(ctx context.Context, name string) (*ferry.Transfer, error)
	ListTransfers(ctx context.Context, o ferry.ListOptions) ([]*ferry.Transfer, error)
	CreateTransfer(ctx context.Context, t *ferry.Transfer) error
	UpdateTransfer(ctx context.Context, t *ferry.Transfer) error
	DeleteTransfer(ctx context.Context, name string) error
	// CheckTransfer checks what the domain cannot: the cron syntax, and
	// that the locations it names exist. Errors wrap ferry.ErrInvalid.
	CheckTransfer(ctx context.Context, t *ferry.Transfer) error
	TransferHistory(ctx context.Context, q HistoryQuery) ([]ferry.TransferRecord, error)
	// RunTransfer starts one run of the transfer in the server and
	// returns once it runs (it holds the transfer's lease), or fails with
	// ErrBusy when it is already running anywhere.
	RunTransfer(ctx context.Context, name string) error
}

// ErrBusy is what Transfers.RunTransfer wraps when the transfer is already
// running (409).
var ErrBusy = errors.New("transfer is already running")

// noTransfers stands in when the server has no location or transfer
// store: every call fails with 404.
type noTransfers struct{}

var errNoTransfers = errf(http.StatusNotFound, codeNotFound, "", "locations and transfers are not available on this server")

func (noTransfers) GetLocation(context.Context, string) (*ferry.Location, error) {
	return nil, errNoTransfers
}
func (noTransfers) ListLocations(context.Context, ferry.ListOptions) ([]*ferry.Location, error) {
	return nil, errNoTransfers
}
func (noTransfers) CreateLocation(context.Context, *ferry.Location) error { return errNoTransfers }
func (noTransfers) UpdateLocation(context.Context, *ferry.Location) error { return errNoTransfers }
func (noTransfers) DeleteLocation(context.Context, string) error          { return errNoTransfers }
func (noTransfers) SealSecret(string, string, string) (string, error)     { return "", errNoTransfers }
func (noTransfers) CheckLocation(*ferry.Location) error                   { return errNoTransfers }
func (noTransfers) GetTransfer(context.Context, string) (*ferry.Transfer, error) {
	return nil, errNoTransfers
}
func (noTransfers) ListTransfers(context.Context, ferry.ListOptions) ([]*ferry.Transfer, error) {
	return nil, errNoTransfers
}
func (noTransfers) CreateTransfer(context.Context, *ferry.Transfer) error { return errNoTransfers }
func (noTransfers) UpdateTransfer(context.Context, *ferry.Transfer) error { return errNoTransfers }
func (noTransfers) DeleteTransfer(context.Context, string) error          { return errNoTransfers }
func (noTransfers) CheckTransfer(context.Context, *ferry.Transfer) error  { return errNoTransfers }
func (noTransfers) TransferHistory(context.Context, HistoryQuery) ([]ferry.TransferRecord, error) {
	return nil, errNoTransfers
}
func (noTransfers) RunTransfer(context.Context, string) error { return errNoTransfers }

// locationView is a location as the API shows it: the password and the
// private key are write-only (has_password, has_private_key say whether
// one is stored).
type locationView struct {
	*ferry.Location
	HasPassword   bool `json:"has_password"`
	HasPrivateKey bool `json:"has_private_key"`
}

func (s *Server) locations() *resource[ferry.Location] {
	ls := s.opts.Locations
	return &resource[ferry.Location]{
		plural: "locations", write: accessFull,
		get: ls.GetLocation, list: ls.ListLocations, create: ls.CreateLocation, update: ls.UpdateLocation, del: ls.DeleteLocation,
		meta:    func(l *ferry.Location) (*string, *int64) { return &l.Name, &l.Version },
		fresh:   func() *ferry.Location { return &ferry.Location{} },
		prepare: s.prepareLocation,
		views: func(_ context.Context, ls []*ferry.Location) ([]any, error) {
			out := make([]any, len(ls))
			for i, l := range ls {
				out[i] = locationView{Location: l, HasPassword: l.Password != "", HasPrivateKey: l.PrivateKey != ""}
			}
			return out, nil
		},
	}
}

// prepareLocation decodes a location body. "password" and "private_key"
// are given in clear and sealed here; absent, they keep the stored
// value; "" removes it. "auth" absent is derived from the secrets.
func (s *Server) prepareLocation(_ context.Context, _ *principal, l, old *ferry.Location, body map[string]json.RawMessage) error {
	delete(body, "has_password")
	delete(body, "has_private_key")
	var password, key *string
	if _, err := take(body, "password", &password); err != nil {
		return err
	}
	if _, err := take(body, "private_key", &key); err != nil {
		return err
	}
	_, authGiven := body["auth"]
	if err := decodeInto(body, l); err != nil {
		return err
	}
	if err := ferry.ValidateName("location", l.Name); err != nil {
		return invalid("name", err)
	}
	if old != nil {
		l.Password, l.PrivateKey = old.Password, old.PrivateKey
	}
	for _, f := range []struct {
		in    *string
		out   *string
		field string
		json  string
	}{{password, &l.Password, "password", "password"}, {key, &l.PrivateKey, "key", "private_key"}} {
		switch {
		case f.in == nil:
		case *f.in == "":
			*f.out = ""
		default:
			sealed, err := s.opts.Locations.SealSecret(l.Name, f.field, *f.in)
			if err != nil {
				return err
			}
			*f.out = sealed
		}
	}
	if !authGiven {
		switch {
		case l.PrivateKey != "":
			l.Auth = ferry.AuthKey
		case l.Password != "":
			l.Auth = ferry.AuthPassword
		default:
			l.Auth = ferry.AuthNone
		}
	}
	if err := l.Validate(); err != nil {
		return invalid(locationField(err), err)
	}
	if err := s.opts.Locations.CheckLocation(l); err != nil {
		return invalid("url", err)
	}
	return nil
}

// locationField names the field of a (*ferry.Location).Validate error.
func locationField(err error) string {
	msg := err.Error()
	for _, f := range []struct{ word, field string }{
		{"url", "url"}, {"auth ", "auth"}, {"secret", "password"}, {"host key", "host_key"},
	} {
		if strings.Contains(msg, f.word) {
			return f.field
		}
	}
	return fieldOf(err)
}

// transferView is a transfer as the API shows it: durations as Go
// duration strings.
type transferView struct {
	*ferry.Transfer
	Every  string `json:"every,omitempty"`
	MinAge string `json:"min_age,omitempty"`
}

func viewTransfer(t *ferry.Transfer) transferView {
	v := transferView{Transfer: t}
	if t.Every > 0 {
		v.Every = t.Every.String()
	}
	if t.MinAge > 0 {
		v.MinAge = t.MinAge.String()
	}
	return v
}

func (s *Server) transfers() *resource[ferry.Transfer] {
	ts := s.opts.Transfers
	return &resource[ferry.Transfer]{
		plural: "transfers", write: accessFull,
		get: ts.GetTransfer, list: ts.ListTransfers, create: ts.CreateTransfer, update: ts.UpdateTransfer, del: ts.DeleteTransfer,
		meta:    func(t *ferry.Transfer) (*string, *int64) { return &t.Name, &t.Version },
		fresh:   func() *ferry.Transfer { return &ferry.Transfer{Retries: 3} },
		prepare: s.prepareTransfer,
		views: func(_ context.Context, ts []*ferry.Transfer) ([]any, error) {
			out := make([]any, len(ts))
			for i, t := range ts {
				out[i] = viewTransfer(t)
			}
			return out, nil
		},
	}
}

// prepareTransfer decodes a transfer body; "every" and "min_age" take a
// Go duration string or nanoseconds.
func (s *Server) prepareTransfer(ctx context.Context, _ *principal, t, _ *ferry.Transfer, body map[string]json.RawMessage) error {
	for key, dst := range map[string]*time.Duration{"every": &t.Every, "min_age": &t.MinAge} {
		raw, ok := body[key]
		if !ok {
			continue
		}
		delete(body, key)
		d, err := parseTimeout(raw)
		if err != nil {
			return errf(http.StatusBadRequest, codeInvalid, key, "%s %s: a duration such as \"30s\" or \"5m\"", key, raw)
		}
		*dst = d
	}
	if err := decodeInto(body, t); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return invalid(transferField(err), err)
	}
	if err := s.opts.Transfers.CheckTransfer(ctx, t); err != nil {
		return invalid(transferField(err), err)
	}
	return nil
}

// transferField names the field of a transfer validation error, whose
// message reads `transfer "NAME": FIELD: …` (or names a location).
func transferField(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, `": `); i >= 0 {
		msg = msg[i+3:]
	}
	field, _, _ := strings.Cut(msg, ":")
	switch field {
	case "source/dest", "source":
		return "source"
	case "trigger", "cron":
		return "cron"
	case "dest", "destination":
		return "dest"
	case "after":
		return "archive_to"
	}
	if !strings.Contains(field, " ") && field != "" {
		return field
	}
	if strings.HasPrefix(msg, "name") {
		return "name"
	}
	return ""
}

// runTransfer serves POST /api/v1/transfers/{name}/run: one run now, in
// the server (202); 409 when it is already running.
func (s *Server) runTransfer(w http.ResponseWriter, r *http.Request, p *principal) error {
	name := r.PathValue("name")
	if _, err := s.opts.Transfers.GetTransfer(r.Context(), name); err != nil {
		return err
	}
	if err := s.opts.Transfers.RunTransfer(r.Context(), name); err != nil {
		if errors.Is(err, ErrBusy) {
			return errf(http.StatusConflict, codeConflict, "", "transfer %q is already running", name)
		}
		return err
	}
	s.audit(r, p, "run", "/transfers/"+name)
	writeJSON(w, http.StatusAccepted, map[string]string{"transfer": name, "status": "started"})
	return nil
}

// transferHistory serves GET /api/v1/transfers/{name}/history?status=&limit=.
func (s *Server) transferHistory(w http.ResponseWriter, r *http.Request, _ *principal) error {
	name := r.PathValue("name")
	q := r.URL.Query()
	hq := HistoryQuery{Transfer: name, Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return errf(http.StatusBadRequest, codeInvalid, "limit", "limit %q: accepted values are 1 to %d", v, maxLimit)
		}
		hq.Limit = n
	}
	switch v := q.Get("status"); v {
	case "", ferry.TransferOK, ferry.TransferFailed, ferry.TransferRemoving:
		hq.Status = v
	default:
		return errf(http.StatusBadRequest, codeInvalid, "status", "status %q: accepted values are %s, %s, %s", v, ferry.TransferOK, ferry.TransferFailed, ferry.TransferRemoving)
	}
	hs, err := s.opts.Transfers.TransferHistory(r.Context(), hq)
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		// Deleted transfers keep their history; only a name never seen
		// at all is unknown.
		if _, err := s.opts.Transfers.GetTransfer(r.Context(), name); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, pageOf(hs, ferry.ListOptions{Limit: len(hs) + 1}))
	return nil
}
