package transfer

import (
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		name, spec, from, want string
	}{
		{"every minute", "* * * * *", "2030-01-01 10:00", "2030-01-01 10:01"},
		{"every 15 minutes", "*/15 * * * *", "2030-01-01 10:07", "2030-01-01 10:15"},
		{"nightly at 02:30", "30 2 * * *", "2030-01-01 10:00", "2030-01-02 02:30"},
		{"weekdays only", "0 9 * * 1-5", "2030-01-04 10:00", "2030-01-07 09:00"}, // Fri → Mon
		{"sunday as 7", "0 0 * * 7", "2030-01-01 00:00", "2030-01-06 00:00"},
		{"dom or dow", "0 0 15 * 1", "2030-01-08 00:00", "2030-01-14 00:00"},
		{"first of a month", "0 0 1 3 *", "2030-01-01 00:00", "2030-03-01 00:00"},
		{"list and range step", "5,10-20/5 * * * *", "2030-01-01 10:11", "2030-01-01 10:15"},
		{"leap day", "0 0 29 2 *", "2030-01-01 00:00", "2032-02-29 00:00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Next(at(tt.from)); !got.Equal(at(tt.want)) {
				t.Errorf("Next(%s) = %s, want %s", tt.from, got.Format("2006-01-02 15:04 Mon"), tt.want)
			}
		})
	}
	c, _ := ParseCron("0 0 31 2 *")
	if got := c.Next(at("2030-01-01 00:00")); !got.IsZero() {
		t.Errorf("31 February: Next = %v, want zero", got)
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("ParseCron(%q) accepted", bad)
		}
	}
}
