package cli

import (
	"bytes"
	"strings"
	"testing"
)

// ferryIn runs the CLI in-process on data directory dir with stdin, fails
// the test unless it exits 0 (or stderr holds reject), and returns stdout.
func ferryIn(t *testing.T, dir, reject, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(t.Context(), append([]string{"--data-dir", dir}, args...), strings.NewReader(stdin), &out, &errb,
		func(string) string { return "" })
	if code != 0 || (reject != "" && strings.Contains(errb.String(), reject)) {
		t.Fatalf("ferry %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}
