// Package simulate replays a demand trace against hotpool in virtual time:
// the real planner and service, the real Lua scripts (on embedded miniredis
// or a real Redis), and the simulated App Platform with its deploy time, all
// driven by the deterministic harness (internal/hotpooltest). The
// same inputs give the same result, byte for byte.
package simulate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Demand is one acquire of a trace: at At after the start, of Image, held
// for Hold once served.
type Demand struct {
	At    time.Duration
	Image string
	Hold  time.Duration
}

// TraceHeader is the first line every trace file has.
const TraceHeader = "at_seconds,image,hold_seconds"

// ParseTrace reads a CSV trace: the header line, then one acquire per row.
// Rows may come in any order (they are sorted by time); every problem is
// reported with its line number.
func ParseTrace(r io.Reader) ([]Demand, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("trace: empty: want the header " + TraceHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if strings.Join(head, ",") != TraceHeader {
		return nil, fmt.Errorf("trace: line 1: header %q: want %s", strings.Join(head, ","), TraceHeader)
	}
	var out []Demand
	var problems []string
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		d, perr := parseRow(rec)
		if perr != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s", line, perr))
			if len(problems) == 20 {
				break
			}
			continue
		}
		out = append(out, d)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("trace: %s", strings.Join(problems, "; "))
	}
	if len(out) == 0 {
		return nil, errors.New("trace: no rows after the header")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out, nil
}

func parseRow(rec []string) (Demand, string) {
	if len(rec) != 3 {
		return Demand{}, fmt.Sprintf("%d fields, want 3 (%s)", len(rec), TraceHeader)
	}
	at, err := strconv.ParseFloat(rec[0], 64)
	if err != nil || at < 0 || math.IsInf(at, 0) || at > 366*24*3600 {
		return Demand{}, fmt.Sprintf("at_seconds %q: want a number of seconds from 0 to a year", rec[0])
	}
	if err := pool.ValidateImageName(rec[1]); err != nil {
		return Demand{}, fmt.Sprintf("image %q: %v", rec[1], err)
	}
	hold, err := strconv.ParseFloat(rec[2], 64)
	if err != nil || hold <= 0 || math.IsInf(hold, 0) || hold > 24*3600 {
		return Demand{}, fmt.Sprintf("hold_seconds %q: want a positive number of seconds, at most a day", rec[2])
	}
	return Demand{At: secs(at), Image: rec[1], Hold: secs(hold)}, ""
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Curves are the built-in demand shapes (the seed's sizing table), each a
// rate of acquires a minute over time. Curve draws a trace from one.
var Curves = []string{"steady", "spike", "ramp", "wave", "bursty", "random", "workday"}

// CurveParams shape a built-in curve; zero fields take the defaults.
type CurveParams struct {
	Rate     float64       // mean acquires a minute (default 2)
	Peak     float64       // spike and bursty: the rate at the peak (default 10 × Rate)
	HoldMin  time.Duration // holds are uniform in [HoldMin, HoldMax] (default 5-30 min)
	HoldMax  time.Duration
	Duration time.Duration // default 2 h
	Image    string
}

func (p *CurveParams) fill() {
	if p.Rate <= 0 {
		p.Rate = 2
	}
	if p.Peak <= 0 {
		p.Peak = 10 * p.Rate
	}
	if p.HoldMin <= 0 {
		p.HoldMin = 5 * time.Minute
	}
	if p.HoldMax < p.HoldMin {
		p.HoldMax = max(30*time.Minute, p.HoldMin)
	}
	if p.Duration <= 0 {
		p.Duration = 2 * time.Hour
	}
}

// rateAt is the curve's acquires a minute at t.
func rateAt(name string, p CurveParams, t time.Duration, burstPhase float64) (float64, error) {
	frac := float64(t) / float64(p.Duration)
	switch name {
	case "steady", "random":
		return p.Rate, nil
	case "spike":
		// Rate, with Peak for the tenth of the run starting at its middle.
		if frac >= 0.5 && frac < 0.6 {
			return p.Peak, nil
		}
		return p.Rate, nil
	case "ramp":
		// From Rate/2 to twice Rate, linearly.
		return p.Rate * (0.5 + 1.5*frac), nil
	case "wave":
		// Rate ± 80 %, a period of an hour.
		return p.Rate * (1 + 0.8*math.Sin(2*math.Pi*t.Hours()+burstPhase)), nil
	case "bursty":
		// A 2-minute burst at Peak every 15 minutes, Rate/2 between.
		if math.Mod(t.Minutes()+burstPhase*15, 15) < 2 {
			return p.Peak, nil
		}
		return p.Rate / 2, nil
	case "workday":
		// Twice Rate from 09:00 to 17:00 of each day (the trace starting at
		// midnight, as hotpool simulate's clock does, UTC), a fifth of it
		// between: the day profile's case (run it for days, with --history).
		if h := math.Mod(t.Hours(), 24); h >= 9 && h < 17 {
			return 2 * p.Rate, nil
		}
		return p.Rate / 5, nil
	}
	return 0, fmt.Errorf("curve %q: want one of %s", name, strings.Join(Curves, ", "))
}

// Curve draws a trace from a built-in curve: arrivals of a Poisson process
// whose rate follows the curve (thinning), holds uniform in [HoldMin,
// HoldMax]; "random" draws its rate afresh every 10 minutes, between a
// tenth and twice Rate. Everything random comes from seed.
func Curve(name string, p CurveParams, seed uint64) ([]Demand, error) {
	p.fill()
	if p.Image == "" {
		return nil, errors.New("curve: an image is required")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0xc0ffee))
	phase := rng.Float64()
	if _, err := rateAt(name, p, 0, phase); err != nil {
		return nil, err
	}
	maxRate := max(p.Peak, 2*p.Rate) * 1.8
	var out []Demand
	randomRate, randomUntil := p.Rate, time.Duration(0)
	for t := time.Duration(0); ; {
		t += time.Duration(rng.ExpFloat64() / maxRate * float64(time.Minute))
		if t >= p.Duration {
			return out, nil
		}
		r, _ := rateAt(name, p, t, phase)
		if name == "random" {
			if t >= randomUntil {
				randomRate, randomUntil = p.Rate*(0.1+1.9*rng.Float64()), t+10*time.Minute
			}
			r = randomRate
		}
		if rng.Float64()*maxRate > r {
			continue
		}
		span := p.HoldMax - p.HoldMin
		hold := p.HoldMin + time.Duration(rng.Int64N(int64(span)+1))
		out = append(out, Demand{At: t.Truncate(time.Second), Image: p.Image, Hold: hold.Truncate(time.Second)})
	}
}

// WriteTrace writes demands as a trace file ParseTrace reads.
func WriteTrace(w io.Writer, ds []Demand) error {
	if _, err := fmt.Fprintln(w, TraceHeader); err != nil {
		return err
	}
	for _, d := range ds {
		if _, err := fmt.Fprintf(w, "%g,%s,%g\n", d.At.Seconds(), d.Image, d.Hold.Seconds()); err != nil {
			return err
		}
	}
	return nil
}
