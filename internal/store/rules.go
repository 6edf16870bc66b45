package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Rules keep their filters and action as one JSON column: they are read
// whole, by the event dispatcher, and never queried by field.
var ruleRecord = &record[ferry.Rule]{
	kind:  "rule",
	table: "rules",
	cols:  []string{"spec"},
	meta: func(v *ferry.Rule) meta {
		return meta{id: &v.ID, name: &v.Name, created: &v.CreatedAt, updated: &v.UpdatedAt, version: &v.Version}
	},
	args: func(v *ferry.Rule) ([]any, error) {
		if err := v.Validate(); err != nil {
			return nil, err
		}
		texts := append(append(append(append([]string{v.URL, v.Secret, v.Status}, v.Command...), v.Users...), v.Groups...), v.Paths...)
		if err := checkText("rule", texts...); err != nil {
			return nil, err
		}
		spec, err := jsonArg(ruleSpec(*v))
		if err != nil {
			return nil, err
		}
		return []any{spec}, nil
	},
	dests: func(v *ferry.Rule) []any { return []any{ruleCol{v}} },
}

// ruleSpec is what the spec column holds: the rule without the columns
// stored on their own.
func ruleSpec(r ferry.Rule) ferry.Rule {
	r.ID, r.Name, r.Version = 0, "", 0
	r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{}
	return r
}

// ruleCol scans the spec column into a rule, keeping the fields scanned
// from the columns before it (Rows.Scan fills destinations in order).
type ruleCol struct{ r *ferry.Rule }

func (c ruleCol) Scan(src any) error {
	var spec ferry.Rule
	if err := (jsonCol{&spec}).Scan(src); err != nil {
		return fmt.Errorf("rule spec: %w", err)
	}
	spec.ID, spec.Name, spec.Version = c.r.ID, c.r.Name, c.r.Version
	spec.CreatedAt, spec.UpdatedAt = c.r.CreatedAt, c.r.UpdatedAt
	*c.r = spec
	return nil
}

// CreateRule stores a new event rule after ferry.Rule.Validate, setting
// its ID, times and Version; ferry.ErrExists when the name is taken.
func (s *Store) CreateRule(ctx context.Context, v *ferry.Rule) error {
	return create(ctx, s, ruleRecord, v)
}

// GetRule returns the rule called name, or ferry.ErrNotFound.
func (s *Store) GetRule(ctx context.Context, name string) (*ferry.Rule, error) {
	return get(ctx, s, ruleRecord, name)
}

// ListRules returns rules ordered by name.
func (s *Store) ListRules(ctx context.Context, o ListOptions) ([]*ferry.Rule, error) {
	return list(ctx, s, ruleRecord, o)
}

// UpdateRule replaces the stored rule called v.Name, with the same version
// check and write-back as [Store.UpdateUser].
func (s *Store) UpdateRule(ctx context.Context, v *ferry.Rule) error {
	return update(ctx, s, ruleRecord, v)
}

// DeleteRule removes the rule called name, or fails with ferry.ErrNotFound.
// Its outbox entries stay until delivered or purged.
func (s *Store) DeleteRule(ctx context.Context, name string) error {
	return remove(ctx, s, ruleRecord, name)
}
