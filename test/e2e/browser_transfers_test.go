package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebAdminTransfers creates a managed transfer in the web
// admin, runs it from its page, sees the run in its history and the file
// at the destination, then pauses it.
func TestBrowserWebAdminTransfers(t *testing.T) {
	requireTool(t, "chromium")
	t.Parallel()
	s := newServer(t)
	s.AddService("admin", "admin")
	s.Start()
	admin := "http://" + s.Addr("admin")
	src, dst := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "in")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(src, "report.csv"), []byte("a,b\n1,2\n"))
	writeFile(t, filepath.Join(src, "notes.txt"), []byte("not picked\n"))
	tab := browser(t)

	step(t, tab, "open", chromedp.Navigate(admin+"/admin/transfers"), chromedp.WaitVisible(chromedp.CSS("#name")))
	if st := navStep(t, tab, "sign in",
		chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), AdminPassword+"\n"),
	); st != 200 {
		t.Fatalf("admin sign-in: status %d", st)
	}
	step(t, tab, "transfers", chromedp.Navigate(admin+"/admin/transfers"), chromedp.WaitVisible(chromedp.CSS("#new-transfer")))
	navStep(t, tab, "new transfer page", chromedp.Click(chromedp.CSS("#new-transfer")))
	// A bad number is refused next to its field.
	if st := navStep(t, tab, "bad transfer",
		chromedp.SendKeys(chromedp.CSS("#name"), "reports"),
		chromedp.SendKeys(chromedp.CSS("#source"), src),
		chromedp.SendKeys(chromedp.CSS("#dest"), dst),
		chromedp.SendKeys(chromedp.CSS("#pattern"), "*.csv"),
		chromedp.SendKeys(chromedp.CSS("#parallel"), "-2"),
		chromedp.Click(chromedp.CSS("#save-transfer")),
	); st != 400 {
		t.Errorf("transfer with parallel -2: status %d, want 400", st)
	}
	if e := text(t, tab, "#parallel-err"); !strings.Contains(e, "parallel") {
		t.Errorf("parallel error %q", e)
	}
	step(t, tab, "fix parallel", chromedp.Clear(chromedp.CSS("#parallel")), chromedp.SendKeys(chromedp.CSS("#parallel"), "1"))
	if st := navStep(t, tab, "save transfer", chromedp.Click(chromedp.CSS("#save-transfer"))); st != 200 {
		t.Fatalf("save transfer: status %d; errors %q", st, texts(t, tab, ".field-error, #page-error"))
	}
	if out := s.MustFerry("transfer", "list"); !strings.Contains(out, "reports") {
		t.Errorf("ferry transfer list:\n%s", out)
	}

	// Run now from its page; the file arrives and the history shows it.
	step(t, tab, "run button", chromedp.WaitVisible(chromedp.CSS("#run-transfer")))
	navStep(t, tab, "run", chromedp.Click(chromedp.CSS("#run-transfer")))
	if f := text(t, tab, "p.flash"); !strings.Contains(f, "started") {
		t.Errorf("run flash %q; error %q", f, texts(t, tab, "#page-error"))
	}
	WaitFor(t, "report.csv delivered", func() bool {
		b, err := os.ReadFile(filepath.Join(dst, "report.csv"))
		return err == nil && string(b) == "a,b\n1,2\n"
	})
	WaitFor(t, "the run in the history", func() bool {
		navStep(t, tab, "reload", chromedp.Navigate(admin+"/admin/transfers/reports"))
		rows := texts(t, tab, "#history tbody tr")
		return len(rows) > 0 && strings.Contains(rows[0], "report.csv") && strings.Contains(rows[0], "succeeded")
	})
	if _, err := os.Stat(filepath.Join(dst, "notes.txt")); err == nil {
		t.Error("the pattern did not filter notes.txt")
	}
	shot(t, tab, "transfer-history")

	// Pause: the page then offers Resume, and the CLI sees it paused.
	navStep(t, tab, "pause", chromedp.Click(chromedp.CSS("#pause-transfer")))
	step(t, tab, "resume button", chromedp.WaitVisible(chromedp.CSS("#resume-transfer")))
	if out := s.MustFerry("transfer", "show", "reports"); !strings.Contains(out, "paused") && !strings.Contains(out, "disabled") {
		t.Errorf("ferry transfer show after pause:\n%s", out)
	}
}
