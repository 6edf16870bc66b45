package adminapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The event rules page: the rules, a form to add an exec or webhook rule,
// and the dead letters of the webhook outbox with a replay button.

func (wa *webAdmin) ruleRoutes() {
	s := wa.s
	wa.handle("GET /admin/rules", wa.ruleList)
	wa.handle("POST /admin/rules", wa.addRule)
	wa.handle("POST /admin/rules/{name}/delete", wa.deleter(accessFull, "rules", s.opts.Rules.DeleteRule))
	wa.handle("POST /admin/outbox/replay", func(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
		if err := p.require(accessFull); err != nil {
			return err
		}
		rule := r.PostFormValue("rule")
		n, err := s.opts.Outbox.ReplayOutbox(r.Context(), OutboxQuery{Rule: rule, Dead: true})
		if err != nil {
			return err
		}
		path := "/outbox"
		if rule != "" {
			path += "?rule=" + rule
		}
		s.audit(r, p, "replay", path)
		back(w, r, "/admin/rules", strconv.Itoa(n)+" dead letters replayed")
		return nil
	})
}

// rulesPage is what the rules page shows.
type rulesPage struct {
	Rules  []ruleView
	Dead   []ferry.OutboxEntry
	Events []ferry.EventType
}

func (wa *webAdmin) ruleList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	rs, err := wa.s.opts.Rules.ListRules(r.Context(), ferry.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	dead, err := wa.s.opts.Outbox.ListOutbox(r.Context(), OutboxQuery{Dead: true, Limit: 100})
	if err != nil {
		return err
	}
	data := rulesPage{Dead: dead, Events: ferry.EventTypes}
	for _, ru := range rs {
		data.Rules = append(data.Rules, viewRule(ru))
	}
	if pg.Form == nil {
		pg.Form = url.Values{"action": {string(ferry.ActionExec)}}
	}
	pg.Title, pg.Data = "Event rules", data
	wa.render(w, "rules", pg)
	return nil
}

// ruleBody turns the rule form into an API body: events from the
// checkboxes, list fields one item per line or comma, the command one
// argument per line, only the chosen action's fields.
func ruleBody(form url.Values, pg *webPage) map[string]json.RawMessage {
	body := map[string]json.RawMessage{}
	set := func(k string, v any) { body[k], _ = json.Marshal(v) }
	set("name", strings.TrimSpace(form.Get("name")))
	set("events", append([]string{}, form["events"]...))
	for _, k := range []string{"users", "groups", "protocols"} {
		if v := splitComma(form.Get(k)); len(v) > 0 {
			set(k, v)
		}
	}
	if v := splitLines(form.Get("paths")); len(v) > 0 {
		set("paths", v)
	}
	if v := form.Get("status"); v != "" {
		set("status", v)
	}
	action := form.Get("action")
	set("action", action)
	switch ferry.ActionKind(action) {
	case ferry.ActionExec:
		if v := splitLines(form.Get("command")); len(v) > 0 {
			set("command", v)
		}
	case ferry.ActionWebhook:
		set("url", strings.TrimSpace(form.Get("url")))
		if v := form.Get("secret"); v != "" {
			set("secret", v)
		}
		if v := strings.TrimSpace(form.Get("max_attempts")); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				pg.Errors["max_attempts"] = "max_attempts: a whole number >= 0 (empty: 10)"
			}
			set("max_attempts", n)
		}
	}
	if v := strings.TrimSpace(form.Get("timeout")); v != "" {
		set("timeout", v)
	}
	for _, k := range []string{"pre_hook", "fail_open", "disabled"} {
		if form.Get(k) == "on" {
			set(k, true)
		}
	}
	return body
}

func (wa *webAdmin) addRule(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	body := ruleBody(r.PostForm, pg)
	ru := &ferry.Rule{}
	var err error
	if len(pg.Errors) == 0 {
		if err = wa.s.prepareRule(r.Context(), p, ru, nil, body); err == nil {
			err = wa.s.opts.Rules.CreateRule(r.Context(), ru)
		}
	}
	if err != nil || len(pg.Errors) > 0 {
		if err != nil {
			if ferr := fieldErr(pg, err); ferr != nil {
				return ferr
			}
		}
		pg.Form = r.PostForm
		pg.Form.Del("secret") // not echoed back into the page
		w.WriteHeader(http.StatusBadRequest)
		return wa.ruleList(w, r, p, pg)
	}
	wa.s.audit(r, p, "create", "/rules/"+ru.Name)
	back(w, r, "/admin/rules", "rule "+ru.Name+" added")
	return nil
}
