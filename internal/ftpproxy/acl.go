package ftpproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// HostRule matches backends: any ("*"), a host name, a domain
// ("*.example.com"), an address or a network, with an optional port.
type HostRule struct {
	Any    bool
	Name   string // lower case; a leading "*." matches any subdomain
	Prefix netip.Prefix
	Port   uint16 // 0: any port
}

// ParseHostRule parses "*", "host", "*.domain", "192.0.2.7",
// "192.0.2.0/24", "2001:db8::/32", each optionally followed by ":port"
// (IPv6 in brackets then: "[2001:db8::/32]:21").
func ParseHostRule(s string) (HostRule, error) {
	orig := s
	var r HostRule
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		r.Prefix = p.Masked()
		return r, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		r.Prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		return r, nil
	}
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return r, fmt.Errorf("backend rule %q: missing ]", orig)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			n, err := strconv.ParseUint(p, 10, 16)
			if !ok || err != nil || n == 0 {
				return r, fmt.Errorf("backend rule %q: bad port", orig)
			}
			r.Port = uint16(n)
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return r, fmt.Errorf("backend rule %q: bad port %q", orig, p)
		}
		host, r.Port = h, uint16(n)
	}
	switch {
	case host == "*":
		r.Any = true
	case strings.Contains(host, "/"):
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return r, fmt.Errorf("backend rule %q: %v", orig, err)
		}
		r.Prefix = p.Masked()
	default:
		if a, err := netip.ParseAddr(host); err == nil {
			r.Prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			break
		}
		name := strings.TrimSuffix(strings.ToLower(host), ".")
		if name == "" || strings.ContainsAny(strings.TrimPrefix(name, "*."), "*/ ") {
			return r, fmt.Errorf("backend rule %q: want *, a host name, *.domain, an address or a CIDR, with an optional :port", orig)
		}
		r.Name = name
	}
	return r, nil
}

// ParseHostRules parses a comma or space separated list.
func ParseHostRules(s string) ([]HostRule, error) {
	var out []HostRule
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		r, err := ParseHostRule(f)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ParsePrefixes parses a comma or space separated list of addresses and
// CIDRs.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (r HostRule) String() string {
	var h string
	switch {
	case r.Any:
		h = "*"
	case r.Name != "":
		h = r.Name
	default:
		h = r.Prefix.String()
		if r.Prefix.IsSingleIP() {
			h = r.Prefix.Addr().String()
		}
		if r.Port != 0 && r.Prefix.Addr().Is6() {
			h = "[" + h + "]"
		}
	}
	if r.Port != 0 {
		h += ":" + strconv.Itoa(int(r.Port))
	}
	return h
}

// match reports whether the backend named name (as the client wrote it,
// may be an address), resolved to ip, on port matches the rule.
func (r HostRule) match(name string, ip netip.Addr, port uint16) bool {
	if r.Port != 0 && r.Port != port {
		return false
	}
	switch {
	case r.Any:
		return true
	case r.Name != "":
		name = strings.TrimSuffix(strings.ToLower(name), ".")
		if dom, ok := strings.CutPrefix(r.Name, "*."); ok {
			return strings.HasSuffix(name, "."+dom)
		}
		return name == r.Name
	default:
		return r.Prefix.Contains(ip.Unmap())
	}
}

// backendAllowed applies the deny then the allow list. An empty allow
// list allows everything not denied (forward mode refuses an empty one at
// New).
func backendAllowed(allow, deny []HostRule, name string, ip netip.Addr, port uint16) bool {
	for _, r := range deny {
		if r.match(name, ip, port) {
			return false
		}
	}
	if len(allow) == 0 {
		return true
	}
	for _, r := range allow {
		if r.match(name, ip, port) {
			return true
		}
	}
	return false
}

func clientAllowed(allow, deny []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range deny {
		if p.Contains(ip) {
			return false
		}
	}
	if len(allow) == 0 {
		return true
	}
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
