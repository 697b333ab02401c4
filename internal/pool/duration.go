package pool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Duration is a time.Duration that reads, as the seed does, a number of
// seconds (30, 1.5) and also a Go duration string ("90s", "2m"). It writes
// seconds as a number.
type Duration time.Duration

// Seconds builds a Duration from whole seconds.
func Seconds(s int) Duration { return Duration(time.Duration(s) * time.Second) }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64)), nil
}

// UnmarshalJSON reads seconds (a JSON number) or a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration must be seconds (a number) or a string like \"90s\"")
	}
	v, err := fromSeconds(f)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads "90s", "2m", or a bare number of seconds ("90").
func ParseDuration(s string) (Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return fromSeconds(f)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want seconds or a Go duration like \"90s\"", s)
	}
	return Duration(v), nil
}

func fromSeconds(f float64) (Duration, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("duration %v seconds is out of range", f)
	}
	// The largest durations round up to 2^63 ns as a float64, which would
	// convert to the most negative Duration: clamp them instead.
	switch ns := f * float64(time.Second); {
	case ns >= math.MaxInt64:
		return Duration(math.MaxInt64), nil
	case ns <= math.MinInt64:
		return Duration(math.MinInt64), nil
	default:
		return Duration(time.Duration(ns)), nil
	}
}
