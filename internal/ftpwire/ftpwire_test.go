package ftpwire

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		want       Command
		err        bool
	}{
		{name: "verb only", line: "PWD", want: Command{Verb: "PWD"}},
		{name: "lower case verb", line: "retr a b.txt", want: Command{Verb: "RETR", Arg: "a b.txt"}},
		{name: "argument keeps spaces", line: "STOR  two  spaces ", want: Command{Verb: "STOR", Arg: " two  spaces "}},
		{name: "telnet IP and synch before ABOR", line: "\xff\xf4\xff\xf2ABOR", want: Command{Verb: "ABOR"}},
		{name: "lone data mark", line: "\xf2ABOR", want: Command{Verb: "ABOR"}},
		{name: "IAC IAC is one 0xff", line: "STOR a\xff\xffb", want: Command{Verb: "STOR", Arg: "a\xffb"}},
		{name: "empty", line: "", err: true},
		{name: "verb too long", line: "ABCDEFGHI x", err: true},
		{name: "garbage", line: "\x00\x01\x02", err: true},
		{name: "leading space", line: " USER x", err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.line)
			if (err != nil) != tt.err {
				t.Fatalf("ParseCommand(%q) err = %v, want err %v", tt.line, err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("ParseCommand(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	r := bufio.NewReaderSize(strings.NewReader("USER a\r\n"+long+"\r\nNOOP\npart"), 512)
	for _, want := range []struct {
		line string
		err  error
	}{{"USER a", nil}, {"", ErrLineTooLong}, {"NOOP", nil}, {"", io.ErrUnexpectedEOF}} {
		got, err := ReadLine(r)
		if got != want.line || !errors.Is(err, want.err) {
			t.Fatalf("ReadLine = %q, %v; want %q, %v", got, err, want.line, want.err)
		}
	}
}

func TestReplies(t *testing.T) {
	for _, tt := range []struct {
		name  string
		code  int
		lines []string
		want  string
	}{
		{"single", 200, []string{"OK"}, "200 OK\r\n"},
		{"none", 200, nil, "200 \r\n"},
		{"multi", 211, []string{"Features:", "UTF8", "End"}, "211-Features:\r\n UTF8\r\n211 End\r\n"},
		{"two lines", 230, []string{"a", "b"}, "230-a\r\n230 b\r\n"},
		{"no injection", 550, []string{"a\r\n200 fake"}, "550 a  200 fake\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatReply(tt.code, tt.lines...)
			if got != tt.want {
				t.Fatalf("FormatReply = %q, want %q", got, tt.want)
			}
			rep, err := ReadReply(bufio.NewReader(strings.NewReader(got)))
			if err != nil || rep.Code != tt.code {
				t.Fatalf("ReadReply(%q) = %+v, %v", got, rep, err)
			}
		})
	}
	rep, err := ReadReply(bufio.NewReader(strings.NewReader("150-a\r\n150b\r\n 150 c\r\n150 end\r\n")))
	if err != nil || len(rep.Lines) != 4 || rep.Lines[3] != "end" {
		t.Fatalf("ReadReply multi = %+v, %v", rep, err)
	}
	for _, bad := range []string{"20 x\r\n", "abc\r\n", "2000x\r\n", "099 x\r\n"} {
		if _, err := ReadReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("ReadReply(%q) succeeded", bad)
		}
	}
}

func TestPORT(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want string
		err  bool
	}{
		{arg: "127,0,0,1,4,1", want: "127.0.0.1:1025"},
		{arg: " 10,1,2,3,0,21 ", want: "10.1.2.3:21"},
		{arg: "127,0,0,1,0,0", err: true},
		{arg: "127,0,0,1,4", err: true},
		{arg: "127,0,0,256,4,1", err: true},
		{arg: "127,0,0,-1,4,1", err: true},
		{arg: "a,b,c,d,e,f", err: true},
		{arg: "", err: true},
	} {
		got, err := ParsePORT(tt.arg)
		if (err != nil) != tt.err || err == nil && got.String() != tt.want {
			t.Errorf("ParsePORT(%q) = %v, %v; want %s err %v", tt.arg, got, err, tt.want, tt.err)
		}
		if err == nil {
			back, ok := FormatPORT(got)
			if again, _ := ParsePORT(back); !ok || again != got {
				t.Errorf("FormatPORT round trip %v: %q", got, back)
			}
		}
	}
	txt, _ := FormatPASV(netip.MustParseAddrPort("192.0.2.7:50001"))
	if txt != "Entering Passive Mode (192,0,2,7,195,81)." {
		t.Errorf("FormatPASV = %q", txt)
	}
	if ap, err := ParsePASV("Entering Passive Mode (192,0,2,7,195,81)."); err != nil || ap.String() != "192.0.2.7:50001" {
		t.Errorf("ParsePASV = %v, %v", ap, err)
	}
	if _, ok := FormatPASV(netip.MustParseAddrPort("[::1]:21")); ok {
		t.Error("FormatPASV accepted IPv6")
	}
}

func TestEPRT(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want string
		err  bool
	}{
		{arg: "|1|127.0.0.1|5000|", want: "127.0.0.1:5000"},
		{arg: "|2|::1|5000|", want: "[::1]:5000"},
		{arg: "!2!fe80::1!21!", want: "[fe80::1]:21"},
		{arg: "|1|::1|5000|", err: true},
		{arg: "|2|127.0.0.1|5000|", err: true},
		{arg: "|3|127.0.0.1|5000|", err: true},
		{arg: "|1|127.0.0.1|0|", err: true},
		{arg: "|1|127.0.0.1|70000|", err: true},
		{arg: "|1|127.0.0.1|5000", err: true},
		{arg: "1127.0.0.115000", err: true},
		{arg: "|2|fe80::1%eth0|21|", err: true},
	} {
		got, err := ParseEPRT(tt.arg)
		if (err != nil) != tt.err || err == nil && got.String() != tt.want {
			t.Errorf("ParseEPRT(%q) = %v, %v; want %s err %v", tt.arg, got, err, tt.want, tt.err)
		}
		if err == nil {
			if again, err := ParseEPRT(FormatEPRT(got)); err != nil || again != got {
				t.Errorf("FormatEPRT round trip %v: %v %v", got, again, err)
			}
		}
	}
	if p, err := ParseEPSV("Entering Extended Passive Mode (|||50001|)"); err != nil || p != 50001 {
		t.Errorf("ParseEPSV = %d, %v", p, err)
	}
	if FormatEPSV(21) != "Entering Extended Passive Mode (|||21|)" {
		t.Error("FormatEPSV")
	}
	for arg, want := range map[string]EPSVArg{"": EPSVAny, "1": EPSVIPv4, "2": EPSVIPv6, "all": EPSVAll} {
		if got, err := ParseEPSVArg(arg); err != nil || got != want {
			t.Errorf("ParseEPSVArg(%q) = %v, %v", arg, got, err)
		}
	}
	if _, err := ParseEPSVArg("3"); err == nil {
		t.Error("ParseEPSVArg(3) succeeded")
	}
}

func TestTime(t *testing.T) {
	tm, err := ParseTime("20240229235959.123")
	if err != nil || !tm.Equal(time.Date(2024, 2, 29, 23, 59, 59, 123e6, time.UTC)) {
		t.Fatalf("ParseTime = %v, %v", tm, err)
	}
	if FormatTime(tm) != "20240229235959" {
		t.Fatalf("FormatTime = %s", FormatTime(tm))
	}
	for _, bad := range []string{"2024", "20241301000000", "2024022923595x", "20240229235959,1", "20240229235959."} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) succeeded", bad)
		}
	}
}

type info struct {
	name string
	size int64
	mode fs.FileMode
	mt   time.Time
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return i.mt }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }

func TestList(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		fi   info
		o    ListOptions
		want string
	}{
		{"recent file", info{"a b.txt", 1234, 0o644, now.Add(-time.Hour)}, ListOptions{Now: now},
			"-rw-r--r-- 1 ftp      ftp              1234 Jun  1 11:00 a b.txt\r\n"},
		{"old dir", info{"d", 4096, fs.ModeDir | 0o755, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}, ListOptions{Now: now, Owner: "alice", Group: "staff"},
			"drwxr-xr-x 1 alice    staff            4096 Jan  2  2020 d\r\n"},
		{"symlink", info{"l", 3, fs.ModeSymlink | 0o777, now}, ListOptions{Now: now, LinkTarget: "x"},
			"lrwxrwxrwx 1 ftp      ftp                 3 Jun  1 12:00 l -> x\r\n"},
		{"newline in name", info{"a\r\nb", 0, 0o600, now}, ListOptions{Now: now},
			"-rw------- 1 ftp      ftp                 0 Jun  1 12:00 a  b\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendList(nil, tt.fi, tt.o)); got != tt.want {
				t.Fatalf("AppendList =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if got := ModeString(fs.ModeSetuid | fs.ModeSticky | 0o755); got != "-rwsr-xr-t" {
		t.Errorf("ModeString = %s", got)
	}
}

func TestMLSx(t *testing.T) {
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	got := string(AppendMLSx(nil, MLSxEntry{Name: "a.txt", Info: info{"a.txt", 10, 0o640, mt}, Perm: "adfrw"}, DefaultFacts, false))
	want := "type=file;size=10;modify=20240102030405;perm=adfrw;UNIX.mode=0640; a.txt\r\n"
	if got != want {
		t.Fatalf("AppendMLSx = %q, want %q", got, want)
	}
	facts, name, err := ParseMLSx(" " + got)
	if err != nil || name != "a.txt" || facts["size"] != "10" || facts["unix.mode"] != "0640" {
		t.Fatalf("ParseMLSx = %v %q %v", facts, name, err)
	}
	got = string(AppendMLSx(nil, MLSxEntry{Name: "d", Type: "cdir", Info: info{"d", 4096, fs.ModeDir | 0o755, mt}}, FactType|FactSize, true))
	if got != " type=cdir; d\r\n" {
		t.Fatalf("AppendMLSx dir = %q", got)
	}
	f, reply := ParseOptsMLST("Type;size;bogus;")
	if f != FactType|FactSize || reply != "MLST OPTS type;size;" {
		t.Fatalf("ParseOptsMLST = %v %q", f, reply)
	}
	if FeatMLST(FactType) != "MLST type*;size;modify;perm;UNIX.mode;unique;" {
		t.Fatalf("FeatMLST = %q", FeatMLST(FactType))
	}
}
