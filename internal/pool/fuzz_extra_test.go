package pool

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzParseDuration reads config durations in both forms (seconds, or a Go
// duration string, bare or as JSON): an error or a value that writes back
// as the same number of seconds, never a panic or an overflowed value.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90", "1.5", "90s", "2m", "-1", "1e300", "NaN", "Inf", "", "1h2m3s", "9223372036s", `"90s"`, `30`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil {
			roundTrip(t, d)
		}
		var d Duration
		if err := json.Unmarshal([]byte(s), &d); err == nil {
			roundTrip(t, d)
		}
	})
}

func roundTrip(t *testing.T, d Duration) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("%v does not encode: %v", time.Duration(d), err)
	}
	var back Duration
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%s does not decode again: %v", b, err)
	}
	// Relative slack: float64 seconds keep ~15 significant digits.
	diff, slack := math.Abs(float64(back)-float64(d)), math.Max(float64(time.Microsecond), math.Abs(float64(d))/1e12)
	if (back < 0) != (d < 0) || diff > slack {
		t.Fatalf("%v wrote %s and read back %v", time.Duration(d), b, time.Duration(back))
	}
}
