package adminapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks that the served OpenAPI document lists
// exactly the routes the server registers, and that every schema it
// refers to exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.want(e.do("GET", "/api/v1/openapi.json", "", nil), http.StatusOK)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var served, documented []string
	for _, rt := range e.srv.Routes() {
		served = append(served, strings.ReplaceAll(rt, "...}", "}"))
	}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+path)
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, path)
			}
		}
	}
	slices.Sort(served)
	for _, rt := range served {
		if !slices.Contains(documented, rt) {
			t.Errorf("route %s is not in openapi.json", rt)
		}
	}
	for _, rt := range documented {
		if !slices.Contains(served, rt) {
			t.Errorf("openapi.json documents %s, which is not served", rt)
		}
	}
	var all any
	r.json(t, &all)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if ref, ok := c.(string); ok && k == "$ref" {
					name := strings.TrimPrefix(ref, "#/components/schemas/")
					if _, ok := doc.Components.Schemas[name]; !ok {
						t.Errorf("$ref to missing schema %s", ref)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(all)
	if len(served) < 30 {
		t.Errorf("only %d routes served", len(served))
	}
	_ = json.Valid
}
