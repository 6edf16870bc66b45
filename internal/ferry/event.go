package ferry

import "time"

// EventType names what happened.
type EventType string

// Event types published on the core's bus.
const (
	EventLogin          EventType = "login"
	EventLoginFailed    EventType = "login_failed"
	EventLogout         EventType = "logout"
	EventUpload         EventType = "upload"
	EventDownload       EventType = "download"
	EventDelete         EventType = "delete"
	EventRename         EventType = "rename"
	EventMkdir          EventType = "mkdir"
	EventRmdir          EventType = "rmdir"
	EventChmod          EventType = "chmod"
	EventChtimes        EventType = "chtimes"
	EventSymlink        EventType = "symlink"
	EventBan            EventType = "ban"
	EventUnban          EventType = "unban"
	EventServiceStarted EventType = "service_started"
	EventServiceStopped EventType = "service_stopped"
	EventServiceFailed  EventType = "service_failed"
	EventAdminChange    EventType = "admin_change"
	EventPasswordChange EventType = "password_change" // a user changed their own password
	// The FTP proxy's sessions (internal/ftpproxy): a client connected
	// (Status "ok", or why it was refused), disconnected, and one data
	// connection finished (Size bytes, Target the direction).
	EventProxyConnect    EventType = "proxy_connect"
	EventProxyDisconnect EventType = "proxy_disconnect"
	EventProxyData       EventType = "proxy_data"
)

// Event is one thing that happened, as published on the bus. Fields that do
// not apply are zero.
type Event struct {
	Type     EventType     `json:"type"`
	Time     time.Time     `json:"time"`
	Session  string        `json:"session,omitempty"`
	User     string        `json:"user,omitempty"`
	Protocol Protocol      `json:"protocol,omitempty"`
	Remote   string        `json:"remote,omitempty"`
	Path     string        `json:"path,omitempty"`   // virtual path
	Target   string        `json:"target,omitempty"` // rename/symlink target
	Size     int64         `json:"size,omitempty"`   // bytes moved
	Duration time.Duration `json:"duration,omitempty"`
	Status   string        `json:"status,omitempty"` // "ok" or the error text
	Service  string        `json:"service,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	SHA256   string        `json:"sha256,omitempty"` // hex digest of an uploaded file, when computed
}
