package ferry

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Validate checks a user record before it is stored; the error names the
// field and what is accepted. Public keys are checked by auth (callers).
func (u *User) Validate() error {
	if err := ValidateName("user", u.Name); err != nil {
		return err
	}
	// An empty home comes from the home_template of the user's policy
	// or groups at login.
	if u.Home != "" && !filepath.IsAbs(u.Home) {
		return fmt.Errorf("%w: user %q: home %q must be an absolute directory path (or empty: from a group's home_template)", ErrInvalid, u.Name, u.Home)
	}
	if _, err := ParseStatus(string(u.Status)); err != nil {
		return err
	}
	if _, err := ParseUploadMode(string(u.UploadMode)); err != nil {
		return err
	}
	if err := validatePerms(u.Perms); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	if err := u.Policy.Validate(); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	for _, g := range u.Groups {
		if err := ValidateName("group", g); err != nil {
			return err
		}
	}
	for _, p := range u.TLSCertPins {
		if n, err := ParseCertPin(p); err != nil || n != p {
			return fmt.Errorf("%w: user %q: tls_cert_pins: %q is not a lowercase hex SHA-256 fingerprint", ErrInvalid, u.Name, p)
		}
	}
	return nil
}

// Validate checks a group record.
func (g *Group) Validate() error {
	if err := ValidateName("group", g.Name); err != nil {
		return err
	}
	if err := validatePerms(g.Perms); err != nil {
		return fmt.Errorf("group %q: %w", g.Name, err)
	}
	if err := g.Policy.Validate(); err != nil {
		return fmt.Errorf("group %q: %w", g.Name, err)
	}
	return nil
}

// Validate checks an admin record.
func (a *Admin) Validate() error {
	if err := ValidateName("admin", a.Name); err != nil {
		return err
	}
	if _, err := ParseRole(string(a.Role)); err != nil {
		return err
	}
	_, err := ParseStatus(string(a.Status))
	return err
}

func validatePerms(perms []PathPerm) error {
	seen := make(map[string]bool, len(perms))
	for _, p := range perms {
		if !strings.HasPrefix(p.Path, "/") {
			return fmt.Errorf("%w: permission path %q must be an absolute virtual path like /in", ErrInvalid, p.Path)
		}
		if seen[p.Path] {
			return fmt.Errorf("%w: permission path %q given twice", ErrInvalid, p.Path)
		}
		seen[p.Path] = true
	}
	return nil
}

// Validate checks a service definition's name, kind and listen address.
// Protocol options are validated by the service's factory.
func (s *Service) Validate() error {
	if err := ValidateName("service", s.Name); err != nil {
		return err
	}
	if _, err := ParseServiceKind(string(s.Kind)); err != nil {
		return err
	}
	return ValidateListen(s.Listen)
}

// ValidateListen checks a HOST:PORT listen address ("" host means every
// interface; port 0 picks a free port).
func ValidateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen address %q: expected HOST:PORT, e.g. 0.0.0.0:2121, [::]:2121 or :2121", ErrInvalid, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%w: listen address %q: port %q must be a number from 0 to 65535", ErrInvalid, addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && ValidateHostname(host) != nil {
		return fmt.Errorf("%w: listen address %q: host %q is neither an IP address nor a host name", ErrInvalid, addr, host)
	}
	return nil
}

// ValidateHostname checks a DNS host name's syntax.
func ValidateHostname(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("%w: host name %q: must be 1 to 253 characters", ErrInvalid, h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: host name %q: bad label %q", ErrInvalid, h, label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("%w: host name %q: character %q not allowed", ErrInvalid, h, r)
			}
		}
	}
	return nil
}
