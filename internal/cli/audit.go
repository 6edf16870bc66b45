package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
)

// auditPlural maps a command group that changes the store to the record
// path the admin API uses for the same records ("/users/NAME").
var auditPlural = map[string]string{
	"user": "users", "group": "groups", "admin": "admins", "folder": "folders", "ban": "bans",
	"service": "services", "rule": "rules", "outbox": "outbox", "location": "locations",
	"transfer": "transfers", "token": "tokens",
}

// auditAction maps a subcommand that changes the store to the admin API's
// action name.
var auditAction = map[string]string{
	"add": "create", "set": "update", "del": "delete", "remove": "delete", "passwd": "password",
	"rescan": "rescan", "replay": "replay", "run": "run",
}

// auditTarget says whether c changed the store, and what: the action and
// the record's path. `user token add USER NAME` is /users/USER/tokens/NAME.
func auditTarget(c *cobra.Command, args []string) (action, path string, ok bool) {
	action, ok = auditAction[c.Name()]
	if !ok || !c.HasParent() {
		return "", "", false
	}
	parent := c.Parent().Name()
	plural, ok := auditPlural[parent]
	if !ok {
		return "", "", false
	}
	path = "/" + plural
	if parent == "token" && len(args) >= 2 {
		return action, "/users/" + args[0] + "/tokens/" + args[1], true
	}
	if len(args) > 0 && !(parent == "outbox" && action == "replay") {
		path += "/" + args[0]
	}
	return action, path, true
}

// recordAudit runs after every command that succeeded: a command that
// changed the store is recorded as an admin change by the OS user, like
// a change made through the admin API (audit log, admin_change webhook
// rules). A failure to record is reported but does not undo the change.
func (e *env) recordAudit(c *cobra.Command, args []string) error {
	action, path, ok := auditTarget(c, args)
	if !ok {
		return nil
	}
	err := e.withApp(c, func(a *app.App) error {
		return a.RecordAdminChange(c.Context(), app.CLIAdmin(), action, path)
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry: warning: the change was made but not recorded in the audit log: %s\n", oneLine(err))
	}
	return nil
}
