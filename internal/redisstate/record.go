package redisstate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Times cross into Redis as unix milliseconds; 0 (or absent) is "not set".

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func msArg(t time.Time) string { return strconv.FormatInt(ms(t), 10) }

func fromMs(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// clockProfile reads acquire.lua's clock profile of n slots, the fields
// <prefix><slot> ("period:this:prev:prev2"): clock_<minute of the hour> or
// day_<hour of the day>.
func clockProfile(m map[string]string, prefix string, n int) []pool.ClockSlot {
	var out []pool.ClockSlot
	for i := range n {
		f := strings.Split(m[prefix+strconv.Itoa(i)], ":")
		if len(f) != 4 {
			continue
		}
		if out == nil {
			out = make([]pool.ClockSlot, n)
		}
		of, _ := strconv.ParseInt(f[0], 10, 64)
		c := pool.ClockSlot{Of: of}
		for j := range c.Counts {
			c.Counts[j], _ = strconv.Atoi(f[j+1])
		}
		out[i] = c
	}
	return out
}

// msList reads comma-separated unix-ms times; a bad item is skipped.
func msList(s string) []time.Time {
	if s == "" {
		return nil
	}
	var out []time.Time
	for _, f := range strings.Split(s, ",") {
		if t := fromMs(f); !t.IsZero() {
			out = append(out, t)
		}
	}
	return out
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// fields turns a flat HGETALL reply into a map.
func fields(v any) (map[string]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: want a field list, got %T", ErrInternal, v)
	}
	if len(arr)%2 != 0 {
		return nil, fmt.Errorf("%w: odd field list (%d)", ErrInternal, len(arr))
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, ok1 := arr[i].(string)
		val, ok2 := arr[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: non-string field", ErrInternal)
		}
		m[k] = val
	}
	return m, nil
}

// sandboxFrom decodes a sandbox HASH (field names: scripts/*.lua).
func sandboxFrom(m map[string]string) pool.Sandbox {
	return pool.Sandbox{
		ID:             m["id"],
		Pool:           m["pool"],
		State:          pool.State(m["state"]),
		AppID:          m["app_id"],
		URL:            m["url"],
		Region:         m["region"],
		InstanceSize:   m["instance_size"],
		CreatedAt:      fromMs(m["created_at"]),
		CreateDeadline: fromMs(m["create_deadline"]),
		ReadyAt:        fromMs(m["ready_at"]),
		WarmDeadline:   fromMs(m["warm_deadline"]),
		AcquiredAt:     fromMs(m["acquired_at"]),
		LeaseExpiresAt: fromMs(m["lease_expires_at"]),
		DeletingSince:  fromMs(m["deleting_since"]),
		DeleteReason:   m["delete_reason"],
		DeleteAttempts: int(atoi64(m["delete_attempts"])),
		Attempt:        int(atoi64(m["attempt"])),
		ClaimHash:      m["claim_hash"],
		LeaseHanded:    m["lease_handed"] == "1",
		LastHealthyAt:  fromMs(m["last_healthy_at"]),
		HealthFailures: int(atoi64(m["health_failures"])),
		CreateCalledAt: fromMs(m["create_called_at"]),
	}
}

// claimFrom decodes a claim HASH.
func claimFrom(m map[string]string) pool.Claim {
	return pool.Claim{
		Hash:      m["hash"],
		Pool:      m["pool"],
		SandboxID: m["sandbox_id"],
		Attempts:  int(atoi64(m["attempts"])),
		Failed:    m["failed"] == "1",
		CreatedAt: fromMs(m["created_at"]),
		LeaseTTL:  time.Duration(atoi64(m["lease_ttl_ms"])) * time.Millisecond,
		NextTryAt: fromMs(m["next_try_at"]),
	}
}

// poolStateFrom decodes a pool HASH (field names: scripts/*.lua).
func poolStateFrom(name string, m map[string]string) pool.Record {
	n := len(pool.LatencyBucketsMs) + 1
	st := pool.PoolStats{
		// Stored per source only (one field less on the warm path); the
		// totals are their sums.
		TotalAcquires:      atoi64(m["acquires_from_pool"]) + atoi64(m["acquires_cold_start"]),
		AcquiresFromPool:   atoi64(m["acquires_from_pool"]),
		AcquiresColdStart:  atoi64(m["acquires_cold_start"]),
		AcquireLatencyMs:   float64(atoi64(m["warm_latency_us_sum"])+atoi64(m["cold_latency_us_sum"])) / 1000,
		MissesEmpty:        atoi64(m["misses_empty"]),
		MissesShutdown:     atoi64(m["misses_shutdown"]),
		MissesCapacity:     atoi64(m["misses_capacity"]),
		MissesCircuit:      atoi64(m["misses_circuit"]),
		Creates:            atoi64(m["creates"]),
		CreatesFailed:      atoi64(m["creates_failed"]),
		Deletes:            atoi64(m["deletes"]),
		Released:           atoi64(m["released"]),
		HealthRemovals:     atoi64(m["health_removals"]),
		LeasesReaped:       atoi64(m["leases_reaped"]),
		OrphansDeleted:     atoi64(m["orphans_deleted"]),
		ExpiredWarm:        atoi64(m["expired_warm"]),
		ScaledDown:         atoi64(m["scaled_down"]),
		WarmAgeMsSum:       float64(atoi64(m["warm_age_ms_sum"])),
		RefillLagMsSum:     float64(atoi64(m["refill_lag_ms_sum"])),
		RefillLagSamples:   atoi64(m["refill_lag_samples"]),
		WarmLatencyMsSum:   float64(atoi64(m["warm_latency_us_sum"])) / 1000,
		ColdLatencyMsSum:   float64(atoi64(m["cold_latency_us_sum"])) / 1000,
		WarmLatencyBuckets: make([]int64, n),
		ColdLatencyBuckets: make([]int64, n),
	}
	for i := 0; i < n; i++ {
		st.WarmLatencyBuckets[i] = atoi64(m[warmBucketField(i)])
		st.ColdLatencyBuckets[i] = atoi64(m["cold_lat_"+strconv.Itoa(i)])
	}
	return pool.Record{
		Name:                name,
		Shutdown:            m["shutdown"] == "1",
		ActivatedAt:         fromMs(m["activated_at"]),
		LastAcquireAt:       fromMs(m["last_acquire_at"]),
		LastScaleDownAt:     fromMs(m["last_scale_down_at"]),
		LastHealthCheckAt:   fromMs(m["last_health_check_at"]),
		ConsecutiveFailures: int(atoi64(m["consecutive_failures"])),
		NextCreateAt:        fromMs(m["next_create_at"]),
		CircuitOpenUntil:    fromMs(m["circuit_open_until"]),
		CircuitReason:       m["circuit_reason"],
		BelowTargetSince:    fromMs(m["below_target_since"]),
		RateFast:            atof(m["rate_fast"]),
		RateSlow:            atof(m["rate_slow"]),
		RateAt:              fromMs(m["rate_at"]),
		RateSince:           fromMs(m["rate_since"]),
		Recent:              msList(m["recent"]),
		Clock:               clockProfile(m, "clock_", 60),
		Day:                 clockProfile(m, "day_", 24),
		DeployP90:           time.Duration(atoi64(m["deploy_p90_ms"])) * time.Millisecond,
		AutoTarget:          int(atoi64(m["auto_target"])),
		AutoWhy:             m["auto_why"],
		MaxReady:            recordedMaxReady(m["max_ready"]),
		Dynamic:             m["_dynamic"] == "1",
		Stats:               st,
	}
}

func warmBucketField(i int) string { return "warm_lat_" + strconv.Itoa(i) }

// recordedMaxReady is the pool hash's max_ready, -1 when none was recorded.
func recordedMaxReady(v string) int {
	if v == "" {
		return -1
	}
	return int(atoi64(v))
}

// latencyBucket is the histogram bucket of a latency: the first bound it does
// not exceed, or the last (+Inf) bucket.
func latencyBucket(d time.Duration) int {
	msv := float64(d) / float64(time.Millisecond)
	for i, b := range pool.LatencyBucketsMs {
		if msv <= b {
			return i
		}
	}
	return len(pool.LatencyBucketsMs)
}

// atof reads a float a script wrote ("" and garbage are 0).
func atof(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
