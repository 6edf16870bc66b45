package app

import (
	"context"
	"os/user"
	"time"

	"github.com/ferrymft/ferry/internal/events/xferlog"
	"github.com/ferrymft/ferry/internal/ferry"
)

// ProtocolCLI marks admin_change events of changes made with the CLI,
// which writes the store directly.
const ProtocolCLI ferry.Protocol = "cli"

// CLIAdmin names the administrator behind a CLI change: the OS user, or
// "cli" when it cannot be known.
func CLIAdmin() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}

// RecordAdminChange records a change made outside the admin API (the CLI
// writing the store, with or without a server running) as the admin API
// records its own: an admin_change event with the admin in User and
// Detail, the record's path ("/users/alice") in Path and the action
// (create, update, delete…) in Target. The event is appended to the audit
// log file and queued in the outbox for the webhook rules it matches (the
// running server delivers them). The audit log is written only when it is
// a file or syslog: stdout belongs to the command's own output.
func (a *App) RecordAdminChange(ctx context.Context, admin, action, path string) error {
	ev := ferry.Event{Type: ferry.EventAdminChange, Time: time.Now(), User: admin, Detail: admin,
		Protocol: ProtocolCLI, Remote: "local", Path: path, Target: action, Status: "ok"}
	a.ev.hooks.HandleWebhook(ctx, ev)
	a.log.Info("admin change", "admin", admin, "action", action, "path", path, "via", "cli")
	c := a.cfg.AuditLog
	if c.Path == "" || c.Path == "stdout" {
		return nil
	}
	// No rotation here: the server rotates; the CLI only appends.
	l, err := xferlog.Open(xferlog.Options{Format: xferlog.FormatAudit, Path: c.Path, Logger: a.log})
	if err != nil {
		return err
	}
	l.Handle(ctx, ev)
	return l.Close()
}
