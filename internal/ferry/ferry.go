// Package ferry is Ferry's domain vocabulary: accounts, services, permissions,
// events and the error sentinels every layer shares. It imports nothing of
// Ferry's own and may be imported by every package.
package ferry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Protocol names the wire protocol a session or event came through.
type Protocol string

// Protocols a session can use.
const (
	FTP      Protocol = "ftp"
	FTPS     Protocol = "ftps"
	SFTP     Protocol = "sftp"
	SCP      Protocol = "scp"
	SSH      Protocol = "ssh"
	WebDAV   Protocol = "webdav"
	HTTP     Protocol = "http"
	AdminAPI Protocol = "admin"
)

// Status of an account.
type Status string

// Account states.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// ParseStatus accepts "active" or "disabled".
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case StatusActive, StatusDisabled:
		return Status(s), nil
	}
	return "", fmt.Errorf("%w: status %q: accepted values are active, disabled", ErrInvalid, s)
}

// UploadMode says how uploads reach their final name.
type UploadMode string

// Upload modes; the empty mode means UploadAtomic.
const (
	// UploadAtomic writes to a hidden partial and renames it into place on
	// success; nobody sees the partial.
	UploadAtomic UploadMode = "atomic"
	// UploadAtomicResumable is atomic, but the uploading user sees the
	// partial's size through stat, so clients that probe SIZE can resume.
	UploadAtomicResumable UploadMode = "atomic-resumable"
	// UploadDirect writes in place, as vsftpd does.
	UploadDirect UploadMode = "direct"
)

// ParseUploadMode accepts atomic, atomic-resumable or direct ("" is atomic).
func ParseUploadMode(s string) (UploadMode, error) {
	switch UploadMode(s) {
	case "", UploadAtomic:
		return UploadAtomic, nil
	case UploadAtomicResumable, UploadDirect:
		return UploadMode(s), nil
	}
	return "", fmt.Errorf("%w: upload mode %q: accepted values are atomic, atomic-resumable, direct", ErrInvalid, s)
}

// PathPerm grants Perms at Path and below, unless a deeper PathPerm applies.
type PathPerm struct {
	Path  string `json:"path"`
	Perms Perm   `json:"perms"`
}

// User is a virtual account that logs in through the file protocols.
type User struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	PasswordHash string     `json:"-"`
	PublicKeys   []string   `json:"public_keys,omitempty"`   // authorized_keys lines
	TLSCertPins  []string   `json:"tls_cert_pins,omitempty"` // client certificate SHA-256 pins (CertPin); when set, certificate logins need one
	Home         string     `json:"home"`                    // absolute directory on the server
	Groups       []string   `json:"groups,omitempty"`
	Perms        []PathPerm `json:"perms,omitempty"`
	Status       Status     `json:"status"`
	ExpiresAt    time.Time  `json:"expires_at,omitzero"`
	UploadMode   UploadMode `json:"upload_mode,omitempty"`
	Policy       Policy     `json:"policy"`
	Description  string     `json:"description,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// Version increases on every update (optimistic concurrency).
	Version int64 `json:"version"`
}

// Expired reports whether the account has passed its expiry at now.
func (u *User) Expired(now time.Time) bool {
	return !u.ExpiresAt.IsZero() && !now.Before(u.ExpiresAt)
}

// Group carries settings shared by its members.
type Group struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Perms       []PathPerm `json:"perms,omitempty"`
	Policy      Policy     `json:"policy"`
	Description string     `json:"description,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int64      `json:"version"`
}

// Role of an administrator.
type Role string

// Admin roles.
const (
	RoleFull        Role = "full"
	RoleReadOnly    Role = "read-only"
	RoleUserManager Role = "user-manager"
)

// ParseRole accepts full, read-only or user-manager ("" is full).
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case "":
		return RoleFull, nil
	case RoleFull, RoleReadOnly, RoleUserManager:
		return Role(s), nil
	}
	return "", fmt.Errorf("%w: role %q: accepted values are full, read-only, user-manager", ErrInvalid, s)
}

// Admin is an administrator of the server (admin API, web admin).
type Admin struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"-"`
	Role         Role      `json:"role"`
	Status       Status    `json:"status"`
	Description  string    `json:"description,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Version      int64     `json:"version"`
}

// ServiceKind is the kind of listener a service runs.
type ServiceKind string

// Service kinds.
const (
	ServiceFTP      ServiceKind = "ftp"
	ServiceSFTP     ServiceKind = "sftp"
	ServiceHTTP     ServiceKind = "http"
	ServiceAdmin    ServiceKind = "admin"
	ServiceFTPProxy ServiceKind = "ftp-proxy"
)

// ServiceKinds lists the kinds a service definition may have.
var ServiceKinds = []ServiceKind{ServiceFTP, ServiceSFTP, ServiceHTTP, ServiceAdmin, ServiceFTPProxy}

// ParseServiceKind accepts one of ServiceKinds.
func ParseServiceKind(s string) (ServiceKind, error) {
	for _, k := range ServiceKinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(ServiceKinds))
	for i, k := range ServiceKinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("%w: protocol %q: accepted values are %s", ErrInvalid, s, strings.Join(names, ", "))
}

// Service is a listener definition: what to serve and where.
type Service struct {
	ID      int64       `json:"id"`
	Name    string      `json:"name"`
	Kind    ServiceKind `json:"protocol"`
	Listen  string      `json:"listen"` // host:port
	Enabled bool        `json:"enabled"`
	// Options are protocol specific settings (tls, cert, key, passive ports…).
	Options   map[string]string `json:"options,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Version   int64             `json:"version"`
}

// Ban refuses connections from an address or network until it expires.
type Ban struct {
	ID        int64     `json:"id"`
	Network   string    `json:"network"` // CIDR, e.g. 192.0.2.7/32
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: permanent
}

// Log attribute keys, constant so every line of a session can be filtered.
const (
	LogSession = "session"
	LogUser    = "user"
	LogProto   = "proto"
	LogRemote  = "remote"
	LogService = "service"
)

// Error sentinels. Storage and core wrap these (or fs.ErrNotExist,
// fs.ErrPermission, fs.ErrExist, errors.ErrUnsupported) with %w; each front
// end maps them to its protocol once, in its errors.go.
var (
	ErrAuth     = errors.New("login failed") // uniform: unknown user, bad password, disabled, expired
	ErrQuota    = errors.New("quota exceeded")
	ErrLimit    = errors.New("limit reached")
	ErrBanned   = errors.New("address banned")
	ErrExists   = errors.New("already exists")
	ErrNotEmpty = errors.New("directory not empty")
	ErrInvalid  = errors.New("invalid argument")
	ErrNotFound = errors.New("not found") // store records (users, services…)
	ErrConflict = errors.New("conflict")  // optimistic concurrency: version changed
	ErrIsDir    = errors.New("is a directory")
	ErrNotDir   = errors.New("not a directory")
	ErrClosed   = errors.New("session closed")
)

// ListOptions page and filter a listing of named records, ordered by name.
type ListOptions struct {
	// Offset skips that many records.
	Offset int
	// Limit caps the records returned; 0 means no limit.
	Limit int
	// Prefix keeps names starting with it (case-sensitive).
	Prefix string
}
