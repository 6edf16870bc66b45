package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Argon2 is slow by design: these tests run as few verifications as they can.

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery staple"
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=32768,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("HashPassword = %q, not the expected PHC string", h)
	}
	if h2, _ := auth.HashPassword(pw); h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if ok, err := auth.VerifyPassword(h, pw); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := auth.VerifyPassword(h, pw+"!"); ok || err != nil {
		t.Errorf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
	}
	if auth.NeedsRehash(h) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
}

func TestHashPasswordRefusesEmpty(t *testing.T) {
	t.Parallel()
	if _, err := auth.HashPassword(""); !errors.Is(err, ferry.ErrInvalid) {
		t.Errorf("HashPassword(\"\") error = %v, want ferry.ErrInvalid", err)
	}
}

// TestVerifyReferenceVector checks a hash made by the reference C
// implementation: echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -l 32 -e
func TestVerifyReferenceVector(t *testing.T) {
	t.Parallel()
	const h = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	if ok, err := auth.VerifyPassword(h, "password"); !ok || err != nil {
		t.Errorf("VerifyPassword(reference) = %v, %v; want true, nil", ok, err)
	}
	if !auth.NeedsRehash(h) {
		t.Error("NeedsRehash(other parameters) = false")
	}
}

func TestVerifyBcrypt(t *testing.T) {
	t.Parallel()
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := string(b) // $2a$
	for _, h := range []string{h, "$2b$" + h[4:], "$2y$" + h[4:]} {
		if ok, err := auth.VerifyPassword(h, "s3cret"); !ok || err != nil {
			t.Errorf("VerifyPassword(%.7s…, right) = %v, %v; want true, nil", h, ok, err)
		}
		if ok, err := auth.VerifyPassword(h, "s3cret "); ok || err != nil {
			t.Errorf("VerifyPassword(%.7s…, wrong) = %v, %v; want false, nil", h, ok, err)
		}
		if !auth.NeedsRehash(h) {
			t.Errorf("NeedsRehash(%.7s…) = false, want true for bcrypt", h)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	const salt, key = "c29tZXNhbHQ", "GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	for _, tt := range []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"md5 crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"},
		{"sha512 crypt", "$6$rounds=5000$salt$hash"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=4$" + salt + "$" + key},
		{"bcrypt 2x", "$2x$04$abcdefghijklmnopqrstuuP5b1ImJoW4OyCaSXjGNtvK5PU8bFxW6"},
		{"argon2id missing parts", "$argon2id$v=19$m=65536,t=2,p=4$" + salt},
		{"argon2id extra parts", "$argon2id$v=19$m=65536,t=2,p=4$" + salt + "$" + key + "$x"},
		{"argon2id no version", "$argon2id$m=65536,t=2,p=4$" + salt + "$" + key + "$"},
		{"argon2id old version", "$argon2id$v=16$m=65536,t=2,p=4$" + salt + "$" + key},
		{"argon2id params out of order", "$argon2id$v=19$t=2,m=65536,p=4$" + salt + "$" + key},
		{"argon2id signed param", "$argon2id$v=19$m=+65536,t=2,p=4$" + salt + "$" + key},
		{"argon2id zero time", "$argon2id$v=19$m=65536,t=0,p=4$" + salt + "$" + key},
		{"argon2id zero threads", "$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + key},
		{"argon2id huge threads", "$argon2id$v=19$m=65536,t=2,p=256$" + salt + "$" + key},
		{"argon2id memory below 8p", "$argon2id$v=19$m=31,t=2,p=4$" + salt + "$" + key},
		{"argon2id memory too big", "$argon2id$v=19$m=4194304,t=2,p=4$" + salt + "$" + key},
		{"argon2id time too big", "$argon2id$v=19$m=65536,t=1000,p=4$" + salt + "$" + key},
		{"argon2id bad salt base64", "$argon2id$v=19$m=65536,t=2,p=4$!!!!$" + key},
		{"argon2id short salt", "$argon2id$v=19$m=65536,t=2,p=4$YWJj$" + key},
		{"argon2id short key", "$argon2id$v=19$m=65536,t=2,p=4$" + salt + "$YWJj"},
		{"bcrypt truncated", "$2a$04$abc"},
		{"bcrypt cost too high", "$2a$31$abcdefghijklmnopqrstuuP5b1ImJoW4OyCaSXjGNtvK5PU8bFxW6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tt.hash, "password")
			if ok || !errors.Is(err, ferry.ErrInvalid) {
				t.Fatalf("VerifyPassword = %v, %v; want false and an error wrapping ferry.ErrInvalid", ok, err)
			}
			if tt.hash != "" && strings.Contains(err.Error(), tt.hash) {
				t.Errorf("error %q quotes the hash", err)
			}
			if !auth.NeedsRehash(tt.hash) {
				t.Error("NeedsRehash = false")
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	t.Parallel()
	auth.DummyVerify("anything") // must simply return; its cost is measured by bench, not here
}
