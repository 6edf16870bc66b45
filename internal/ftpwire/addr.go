package ftpwire

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadAddress is returned for a malformed PORT/EPRT argument or
// PASV/EPSV reply.
var ErrBadAddress = errors.New("ftpwire: malformed data address")

// ParsePORT parses PORT's "h1,h2,h3,h4,p1,p2" (RFC 959) into an IPv4
// address and port. Port 0 is refused.
func ParsePORT(arg string) (netip.AddrPort, error) {
	parts := strings.Split(strings.TrimSpace(arg), ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, fmt.Errorf("%w: PORT %q: want h1,h2,h3,h4,p1,p2", ErrBadAddress, truncate(arg, 60))
	}
	var b [6]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: PORT %q: %q is not 0-255", ErrBadAddress, truncate(arg, 60), truncate(p, 10))
		}
		b[i] = byte(n)
	}
	port := uint16(b[4])<<8 | uint16(b[5])
	if port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: PORT %q: port 0", ErrBadAddress, truncate(arg, 60))
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port), nil
}

// FormatPORT returns the PORT argument for an IPv4 address (an IPv4-mapped
// IPv6 address is unmapped); ok is false for IPv6.
func FormatPORT(ap netip.AddrPort) (arg string, ok bool) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return "", false
	}
	b := a.As4()
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], ap.Port()>>8, ap.Port()&0xff), true
}

// FormatPASV returns the 227 reply text for a passive address:
// "Entering Passive Mode (h1,h2,h3,h4,p1,p2)."; ok is false for IPv6.
func FormatPASV(ap netip.AddrPort) (text string, ok bool) {
	arg, ok := FormatPORT(ap)
	if !ok {
		return "", false
	}
	return "Entering Passive Mode (" + arg + ").", true
}

// ParsePASV finds the address in a 227 reply text (clients write it in
// many ways; the six numbers are what counts).
func ParsePASV(text string) (netip.AddrPort, error) {
	start := strings.IndexAny(text, "0123456789")
	if start < 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: 227 %q", ErrBadAddress, truncate(text, 60))
	}
	end := start
	for end < len(text) && (text[end] >= '0' && text[end] <= '9' || text[end] == ',' || text[end] == ' ') {
		end++
	}
	return ParsePORT(strings.TrimSpace(text[start:end]))
}

// Address families of EPRT (RFC 2428).
const (
	FamilyIPv4 = 1
	FamilyIPv6 = 2
)

// ParseEPRT parses EPRT's "<d>af<d>addr<d>port<d>" where d is any
// printable ASCII character other than a digit.
func ParseEPRT(arg string) (netip.AddrPort, error) {
	bad := func(why string) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("%w: EPRT %q: %s", ErrBadAddress, truncate(arg, 80), why)
	}
	if len(arg) < 2 {
		return bad("want |af|addr|port|")
	}
	d := arg[0]
	if d < 33 || d > 126 || d >= '0' && d <= '9' {
		return bad("bad delimiter")
	}
	parts := strings.Split(arg, string(d))
	if len(parts) != 5 || parts[0] != "" || parts[4] != "" {
		return bad("want |af|addr|port|")
	}
	addr, err := netip.ParseAddr(parts[2])
	if err != nil || addr.Zone() != "" {
		return bad("bad network address")
	}
	switch parts[1] {
	case "1":
		if !addr.Is4() {
			return bad("family 1 needs an IPv4 address")
		}
	case "2":
		if !addr.Is6() {
			return bad("family 2 needs an IPv6 address")
		}
		addr = addr.Unmap()
	default:
		return bad("unknown network protocol (use 1 or 2)")
	}
	port, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || port == 0 {
		return bad("bad port")
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// FormatEPRT returns the EPRT argument for an address.
func FormatEPRT(ap netip.AddrPort) string {
	a := ap.Addr()
	if a.Is4In6() {
		a = a.Unmap()
	}
	af := FamilyIPv6
	if a.Is4() {
		af = FamilyIPv4
	}
	return fmt.Sprintf("|%d|%s|%d|", af, a.WithZone("").String(), ap.Port())
}

// FormatEPSV returns the 229 reply text for a passive port.
func FormatEPSV(port uint16) string {
	return fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port)
}

// ParseEPSV finds the port in a 229 reply text: "(<d><d><d>port<d>)".
func ParseEPSV(text string) (uint16, error) {
	open := strings.IndexByte(text, '(')
	closing := strings.LastIndexByte(text, ')')
	if open < 0 || closing < open+6 {
		return 0, fmt.Errorf("%w: 229 %q", ErrBadAddress, truncate(text, 60))
	}
	in := text[open+1 : closing]
	d := in[0]
	if in[1] != d || in[2] != d || in[len(in)-1] != d {
		return 0, fmt.Errorf("%w: 229 %q", ErrBadAddress, truncate(text, 60))
	}
	port, err := strconv.ParseUint(in[3:len(in)-1], 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("%w: 229 %q: bad port", ErrBadAddress, truncate(text, 60))
	}
	return uint16(port), nil
}

// EPSVArg is what an EPSV argument asks for.
type EPSVArg int

// EPSV arguments.
const (
	EPSVAny  EPSVArg = iota // no argument
	EPSVIPv4                // "1"
	EPSVIPv6                // "2"
	EPSVAll                 // "ALL": only EPSV from now on
)

// ParseEPSVArg parses EPSV's optional argument.
func ParseEPSVArg(arg string) (EPSVArg, error) {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "":
		return EPSVAny, nil
	case "1":
		return EPSVIPv4, nil
	case "2":
		return EPSVIPv6, nil
	case "ALL":
		return EPSVAll, nil
	}
	return 0, fmt.Errorf("%w: EPSV %q: want nothing, 1, 2 or ALL", ErrBadAddress, truncate(arg, 20))
}
