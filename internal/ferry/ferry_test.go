package ferry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParsePerm(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Perm
		wantErr string
	}{
		{in: "list,download", want: PermList | PermDownload},
		{in: "*", want: PermAll},
		{in: "all,symlink", want: PermAll | PermSymlink},
		{in: "none", want: PermNone},
		{in: " Upload , MKDIR ", want: PermUpload | PermMkdir},
		{in: "list,fly", wantErr: `permission "fly": accepted values are list, download`},
	} {
		got, err := ParsePerm(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParsePerm(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePerm(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		back, err := ParsePerm(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %v via %q = %v, %v", got, got.String(), back, err)
		}
	}
}

func TestPermJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(PathPerm{Path: "/in", Perms: PermList | PermUpload})
	if err != nil || string(b) != `{"path":"/in","perms":["list","upload"]}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var pp PathPerm
	if err := json.Unmarshal(b, &pp); err != nil || pp.Perms != PermList|PermUpload {
		t.Fatalf("Unmarshal = %+v, %v", pp, err)
	}
	if err := json.Unmarshal([]byte(`{"path":"/","perms":["fly"]}`), &pp); err == nil {
		t.Fatal("Unmarshal accepted an unknown right")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := User{Name: "alice", Home: "/srv/alice", Status: StatusActive}
	if err := good.Validate(); err != nil {
		t.Fatalf("good user: %v", err)
	}
	for _, tt := range []struct {
		name    string
		mutate  func(*User)
		wantErr string
	}{
		{"relative home", func(u *User) { u.Home = "alice" }, "must be an absolute directory"},
		{"bad name", func(u *User) { u.Name = "a b" }, `character ' ' not allowed`},
		{"leading dash", func(u *User) { u.Name = "-x" }, "must not start"},
		{"bad status", func(u *User) { u.Status = "gone" }, "accepted values are active, disabled"},
		{"relative perm path", func(u *User) { u.Perms = []PathPerm{{Path: "in"}} }, "absolute virtual path"},
		{"bad upload mode", func(u *User) { u.UploadMode = "fast" }, "atomic, atomic-resumable, direct"},
	} {
		u := good
		tt.mutate(&u)
		if err := u.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestValidateListen(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{":2121", "0.0.0.0:21", "[::1]:22", "localhost:8080", "127.0.0.1:0"} {
		if err := ValidateListen(ok); err != nil {
			t.Errorf("ValidateListen(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"2121", "host:port", ":70000", "bad_host!:21", ""} {
		if err := ValidateListen(bad); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateListen(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"alice", "a.b-c_d@corp", "X1"} {
		if err := ValidateName("user", ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "a/b", "ä", strings.Repeat("a", 65)} {
		if err := ValidateName("user", bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}
