package ferry

import "fmt"

// ValidateName checks a user, group, admin or service name: 1 to 64
// characters from letters, digits, '.', '_', '-' and '@', not starting with
// '.' or '-'. kind names the record in the error ("user", "service"…).
func ValidateName(kind, name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: %s name %q: must be 1 to 64 characters", ErrInvalid, kind, name)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("%w: %s name %q: must not start with '.' or '-'", ErrInvalid, kind, name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '@':
		default:
			return fmt.Errorf("%w: %s name %q: character %q not allowed (letters, digits, . _ - @)", ErrInvalid, kind, name, r)
		}
	}
	return nil
}
