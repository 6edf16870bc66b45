package ftpwire

import (
	"bufio"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice", "\xff\xf4\xff\xf2ABOR", "STOR a\xff\xffb", "", " x", "PORT 1,2,3,4,5,6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		if c.Verb == "" || len(c.Verb) > 8 || strings.ToUpper(c.Verb) != c.Verb {
			t.Fatalf("ParseCommand(%q) verb %q", line, c.Verb)
		}
		if strings.ContainsAny(c.Verb, " \r\n") {
			t.Fatalf("ParseCommand(%q) verb %q holds a separator", line, c.Verb)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	f.Add("211-a\r\n b\r\n211 c\r\n")
	f.Add("200 x\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		rep, err := ReadReply(bufio.NewReader(strings.NewReader(s)))
		if err == nil && (rep.Code < 100 || rep.Code > 599) {
			t.Fatalf("ReadReply(%q) code %d", s, rep.Code)
		}
	})
}

func FuzzReplyNoInjection(f *testing.F) {
	f.Add("text\r\n200 injected")
	f.Fuzz(func(t *testing.T, text string) {
		out := FormatReply(550, text)
		if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "550 ") {
			t.Fatalf("FormatReply(%q) = %q", text, out)
		}
	})
}

func FuzzParsePORT(f *testing.F) {
	f.Add("127,0,0,1,4,1")
	f.Add("1,2,3,4,0,0")
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParsePORT(arg)
		if err != nil {
			return
		}
		if !ap.Addr().Is4() || ap.Port() == 0 {
			t.Fatalf("ParsePORT(%q) = %v", arg, ap)
		}
		back, ok := FormatPORT(ap)
		if again, err := ParsePORT(back); !ok || err != nil || again != ap {
			t.Fatalf("round trip %q -> %v -> %q -> %v %v", arg, ap, back, again, err)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	f.Add("|1|127.0.0.1|5000|")
	f.Add("|2|::1|5000|")
	f.Add("|2|::ffff:1.2.3.4|1|")
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParseEPRT(arg)
		if err != nil {
			return
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			t.Fatalf("ParseEPRT(%q) = %v", arg, ap)
		}
		if again, err := ParseEPRT(FormatEPRT(ap)); err != nil || again != ap {
			t.Fatalf("round trip %q -> %v -> %v %v", arg, ap, again, err)
		}
	})
}

func FuzzParseEPSV(f *testing.F) {
	f.Add("Entering Extended Passive Mode (|||50001|)")
	f.Add("(||||)")
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParseEPSV(s); err == nil && p == 0 {
			t.Fatalf("ParseEPSV(%q) = 0", s)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	f.Add("20240229235959.123")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err == nil && FormatTime(tm) != s[:14] {
			t.Fatalf("ParseTime(%q) = %v formats as %s", s, tm, FormatTime(tm))
		}
	})
}
