package ftpwire

import (
	"testing"
	"time"
)

func TestParseList(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, line string
		want       ListEntry
		bad        bool
	}{
		{name: "vsftpd file", line: "-rw-r--r--    1 1000     1000         1234 Mar 02 15:04 a b.csv",
			want: ListEntry{Name: "a b.csv", Size: 1234, ModTime: time.Date(2024, 3, 2, 15, 4, 0, 0, time.UTC)}},
		{name: "old file with year", line: "-rw-r--r-- 1 ftp ftp 5 Dec 31  2019 old.txt",
			want: ListEntry{Name: "old.txt", Size: 5, ModTime: time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC)}},
		{name: "recent date last year", line: "-rw-r--r-- 1 ftp ftp 5 Dec 31 10:00 x",
			want: ListEntry{Name: "x", Size: 5, ModTime: time.Date(2023, 12, 31, 10, 0, 0, 0, time.UTC)}},
		{name: "directory", line: "drwxr-xr-x 2 ftp ftp 4096 Jan 01 00:00 in",
			want: ListEntry{Name: "in", Size: 4096, Dir: true, ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "no group column", line: "-rw-r--r-- 1 owner 77 Feb 29 2024 leap",
			want: ListEntry{Name: "leap", Size: 77, ModTime: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)}},
		{name: "symlink", line: "lrwxrwxrwx 1 ftp ftp 3 Mar 01 01:01 l -> tgt",
			want: ListEntry{Name: "l", Size: 3, Link: true, Target: "tgt", ModTime: time.Date(2024, 3, 1, 1, 1, 0, 0, time.UTC)}},
		{name: "name looking like a date", line: "-rw-r--r-- 1 ftp ftp 9 Mar 01 01:01 Jan 01 2020",
			want: ListEntry{Name: "Jan 01 2020", Size: 9, ModTime: time.Date(2024, 3, 1, 1, 1, 0, 0, time.UTC)}},
		{name: "dos file", line: "03-04-24  01:02PM              1024 report.csv",
			want: ListEntry{Name: "report.csv", Size: 1024, ModTime: time.Date(2024, 3, 4, 13, 2, 0, 0, time.UTC)}},
		{name: "dos dir", line: "03-04-24  01:02AM       <DIR>          sub dir",
			want: ListEntry{Name: "sub dir", Dir: true, ModTime: time.Date(2024, 3, 4, 1, 2, 0, 0, time.UTC)}},
		{name: "total line", line: "total 12", bad: true},
		{name: "empty", line: "", bad: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseList(tt.line, now)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseList(%q) = %+v, want error", tt.line, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseList(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}

func FuzzParseList(f *testing.F) {
	f.Add("-rw-r--r-- 1 ftp ftp 5 Dec 31  2019 old.txt")
	f.Add("03-04-24  01:02PM              1024 report.csv")
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseList(line, time.Now())
		if err == nil && e.Name == "" {
			t.Fatalf("ParseList(%q) gave an empty name", line)
		}
	})
}
