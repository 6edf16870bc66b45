package httpd

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address src.
func clientFrom(t *testing.T, src string) *http.Client {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TestDefenderBansHTTPClients: wrong Basic credentials and unreadable
// Authorization headers from one address reach the defender; once banned
// the address is refused at connect time (and its open connection is
// closed after the reply that banned it), while 127.0.0.1 keeps working.
func TestDefenderBansHTTPClients(t *testing.T) {
	t.Parallel()
	const threshold = 4
	bans := &ferrytest.Bans{}
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		o.Defender = auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: threshold})
	}, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "a.txt", []byte("a"))
	base := startServer(t, env)

	send := func(c *http.Client, path string, hdr ...string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for _, tc := range []struct {
		name, src string
		hdr       []string
	}{
		{"wrong password on /dav/", "127.0.0.2", []string{"Authorization", basic("alice", "wrong")}},
		{"wrong password on /api/v1/fs/", "127.0.0.3", []string{"Authorization", basic("alice", "wrong")}},
		{"base64 garbage", "127.0.0.4", []string{"Authorization", "Basic !!not-base64!!"}},
		{"no colon", "127.0.0.5", []string{"Authorization", "Basic YWxpY2U="}},
		{"unknown scheme", "127.0.0.6", []string{"Authorization", "Digest username=\"alice\""}},
	} {
		path := "/dav/a.txt"
		if strings.Contains(tc.name, "/api/") {
			path = "/api/v1/fs/a.txt"
		}
		c := clientFrom(t, tc.src)
		var last *http.Response
		for i := range threshold {
			resp, err := send(c, path, tc.hdr...)
			if err != nil {
				t.Fatalf("%s: request %d: %v", tc.name, i, err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: request %d answered %s", tc.name, i, resp.Status)
			}
			last = resp
		}
		if !last.Close {
			t.Errorf("%s: the reply that banned the address keeps the connection open", tc.name)
		}
		if resp, err := send(c, path, "Authorization", basic("alice", "pw")); err == nil {
			t.Errorf("%s: banned address got %s, want the connection refused", tc.name, resp.Status)
		}
		if err := env.Engine.Admit(netip.MustParseAddr(tc.src)); err == nil {
			t.Errorf("%s: %s not banned", tc.name, tc.src)
		}
	}
	// No credentials at all is the challenge step every client takes.
	c := clientFrom(t, "127.0.0.7")
	for range threshold + 1 {
		if resp, err := send(c, "/dav/a.txt"); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request without credentials: %v %v", resp, err)
		}
	}
	resp, err := send(clientFrom(t, "127.0.0.1"), "/dav/a.txt", "Authorization", basic("alice", "pw"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("127.0.0.1 after the others were banned: %v %v", resp, err)
	}
	if err := env.Engine.Admit(netip.MustParseAddr("127.0.0.7")); err != nil {
		t.Errorf("requests without credentials got 127.0.0.7 banned: %v", err)
	}
	if got := bans.List(); len(got) != 5 {
		t.Errorf("stored bans = %+v, want one per misbehaving address", got)
	}
}

func basic(user, pw string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

// TestDefenderScoresUnreadableRequests: connections that send bytes net/http
// cannot read as a request (answered 400 before any handler) count against
// their address; connections that send nothing do not.
func TestDefenderScoresUnreadableRequests(t *testing.T) {
	t.Parallel()
	const threshold = 3
	bans := &ferrytest.Bans{}
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		o.Defender = auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: threshold})
	}, ferrytest.User("alice", "pw"))
	base := startServer(t, env)
	addr := strings.TrimPrefix(base, "http://")
	dial := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		return c
	}
	for range threshold + 1 {
		c := dial("127.0.0.9") // connects and leaves: a preconnect
		c.Close()
	}
	for _, garbage := range []string{"SSH-2.0-OpenSSH_9.2\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "GET / HTTP/9.9\r\n\r\n"} {
		c := dial("127.0.0.8")
		c.Write([]byte(garbage))
		buf := make([]byte, 512)
		c.Read(buf) // net/http's 400, or the close
		c.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for env.Engine.Admit(netip.MustParseAddr("127.0.0.8")) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("127.0.0.8 not banned after %d unreadable requests", threshold)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := env.Engine.Admit(netip.MustParseAddr("127.0.0.9")); err != nil {
		t.Errorf("connections without a byte got 127.0.0.9 banned: %v", err)
	}
	resp, err := clientFrom(t, "127.0.0.1").Get(base + "/login")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("127.0.0.1 after 127.0.0.8 was banned: %v %v", resp, err)
	}
	resp.Body.Close()
}
