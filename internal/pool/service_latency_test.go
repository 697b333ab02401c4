package pool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// latencySample is one RecordAcquireLatency call, with what its ctx was.
type latencySample struct {
	pool        string
	source      Source
	d           time.Duration
	ctxErr      error
	hasDeadline bool
}

// recordingStore is a recStore that also keeps latency samples, as the Redis
// store does. block, when set, holds every recording until it is closed.
type recordingStore struct {
	*recStore
	mu      sync.Mutex
	samples []latencySample
	block   chan struct{}
	err     error
}

func (s *recordingStore) RecordAcquireLatency(ctx context.Context, pool string, source Source, d time.Duration) error {
	if s.block != nil {
		<-s.block
	}
	_, has := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, latencySample{pool: pool, source: source, d: d, ctxErr: ctx.Err(), hasDeadline: has})
	return s.err
}

func (s *recordingStore) recorded() []latencySample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]latencySample(nil), s.samples...)
}

// newRecordingService is a service on a recordingStore whose Acquire takes
// storeTime on the clock and answers a warm lease (or what answer returns).
func newRecordingService(t *testing.T, storeTime time.Duration, answer func(p AcquireParams) (AcquireResult, error), o ServiceOptions) (*Service, *recordingStore, *ManualClock) {
	t.Helper()
	rs := &recordingStore{}
	var clock *ManualClock
	rs.recStore = &recStore{acquireFn: func(p AcquireParams) (AcquireResult, error) {
		clock.Advance(storeTime)
		if answer != nil {
			return answer(p)
		}
		return AcquireResult{Sandbox: Sandbox{ID: "sb1", Pool: p.Pool}, LeaseExpiresAt: p.Now.Add(p.LeaseTTL), Source: SourcePool}, nil
	}}
	cfg, err := ParseConfig([]byte(`{"pools":{"python":{"target_ready":2}}}`))
	require.NoError(t, err)
	clock = NewManualClock(st0)
	o.Store, o.Config, o.Clock, o.Secrets = rs, cfg, clock, NewSecrets("k")
	svc, err := NewService(o)
	require.NoError(t, err)
	return svc, rs, clock
}

func TestWarmAcquireRecordsArrivalToStoreAnswer(t *testing.T) {
	svc, rs, _ := newRecordingService(t, 7*time.Millisecond, nil, ServiceOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	// Arrived 2 ms before the service started on it (auth, decoding), then
	// the Store took 7 ms.
	_, err := svc.Acquire(ctx, AcquireRequest{Image: "python", ReceivedAt: st0.Add(-2 * time.Millisecond)})
	require.NoError(t, err)
	cancel() // the request is over; its sample must still be written
	require.NoError(t, svc.Flush(context.Background()))
	got := rs.recorded()
	require.Len(t, got, 1)
	require.Equal(t, "python", got[0].pool)
	require.Equal(t, SourcePool, got[0].source)
	require.Equal(t, 9*time.Millisecond, got[0].d)
	require.NoError(t, got[0].ctxErr, "the sample outlives the request's cancellation")
	require.True(t, got[0].hasDeadline, "the sample has its own timeout")
}

func TestLatencyWithoutArrivalCountsFromTheServiceStart(t *testing.T) {
	svc, rs, _ := newRecordingService(t, 5*time.Millisecond, nil, ServiceOptions{})
	_, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python"})
	require.NoError(t, err)
	require.NoError(t, svc.Flush(context.Background()))
	got := rs.recorded()
	require.Len(t, got, 1)
	require.Equal(t, 5*time.Millisecond, got[0].d)
}

func TestOnlyFreshWarmLeasesAreSamples(t *testing.T) {
	for name, answer := range map[string]func(p AcquireParams) (AcquireResult, error){
		"replay": func(p AcquireParams) (AcquireResult, error) {
			return AcquireResult{Sandbox: Sandbox{ID: "sb1"}, Source: SourcePool, Replayed: true}, nil
		},
		"cold claim": func(p AcquireParams) (AcquireResult, error) {
			return AcquireResult{Claim: &Claim{Hash: p.ClaimHash, Pool: p.Pool}}, nil
		},
		"exhausted": func(p AcquireParams) (AcquireResult, error) { return AcquireResult{}, ErrPoolExhausted },
	} {
		t.Run(name, func(t *testing.T) {
			svc, rs, _ := newRecordingService(t, time.Millisecond, answer, ServiceOptions{})
			_, _ = svc.Acquire(context.Background(), AcquireRequest{Image: "python"})
			require.NoError(t, svc.Flush(context.Background()))
			require.Empty(t, rs.recorded())
		})
	}
}

func TestRecordingNeverHoldsTheAcquire(t *testing.T) {
	svc, rs, _ := newRecordingService(t, time.Millisecond, nil, ServiceOptions{})
	rs.block = make(chan struct{})
	// The recorder is stuck: the acquire still answers.
	a, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python"})
	require.NoError(t, err)
	require.Equal(t, "sb1", a.Sandbox.ID)
	require.Empty(t, rs.recorded())

	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, svc.Flush(done), context.Canceled, "Flush gives up with its ctx while a sample is in flight")
	close(rs.block)
	require.NoError(t, svc.Flush(context.Background()))
	require.Len(t, rs.recorded(), 1)
}

func TestARefusedSampleIsLoggedNotReturned(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	svc, rs, _ := newRecordingService(t, time.Millisecond, nil, ServiceOptions{Logger: logger})
	rs.err = errors.New("redis down")
	a, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python"})
	require.NoError(t, err)
	require.NoError(t, svc.Flush(context.Background()))
	require.Contains(t, logs.String(), "acquire latency not recorded")
	require.Contains(t, logs.String(), "redis down")
	require.NotContains(t, logs.String(), a.LeaseToken)
}

func TestFlushWithNothingInFlight(t *testing.T) {
	// A Store without LatencyRecorder: nothing is recorded, Flush returns at once.
	svc, _ := newTestService(t, &recStore{}, ServiceOptions{})
	require.Nil(t, svc.recorder)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, svc.Flush(done))
}
