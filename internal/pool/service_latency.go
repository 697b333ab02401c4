package pool

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// latencyRecordTimeout bounds one latency sample's write. The sample is
// written after the caller has its answer, so this never delays an acquire;
// it only caps how long a slow Redis can keep the goroutine alive.
const latencyRecordTimeout = 2 * time.Second

// recordLatency hands one acquire latency to the Store's LatencyRecorder in a
// goroutine of its own, so the warm acquire stays one Redis round trip on the
// caller's path. The goroutine outlives the request (context.WithoutCancel)
// but not latencyRecordTimeout.
//
// On a serverless platform the container may be frozen as soon as the
// response is written, before the goroutine ran: that sample is then lost (or
// written late, when the container thaws). The warm histogram undercounts
// acquires_from_pool by those samples; the average latency divides by the
// samples actually recorded, so it stays unbiased by the loss.
func (s *Service) recordLatency(ctx context.Context, poolName string, source Source, d time.Duration) {
	if s.recorder == nil {
		return
	}
	if d < 0 {
		d = 0 // a clock stepped back between arrival and answer
	}
	s.recording.add()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), latencyRecordTimeout)
	go func() {
		defer s.recording.done()
		defer cancel()
		if err := s.recorder.RecordAcquireLatency(rctx, poolName, source, d); err != nil {
			s.o.Logger.LogAttrs(rctx, slog.LevelWarn, "acquire latency not recorded",
				slog.String("op", "acquire"), slog.String("pool", poolName), slog.String("error", err.Error()))
		}
	}()
}

// Flush waits until every latency sample started so far is written (or
// failed), or ctx ends. Tests call it before reading metrics, and a server
// before closing its Redis client, so no sample is cut off mid-write.
func (s *Service) Flush(ctx context.Context) error {
	return s.recording.wait(ctx)
}

// inflight counts running goroutines. Unlike a sync.WaitGroup it may be
// waited on while new work is added (acquires keep coming during a Flush):
// a wait ends when the count first drops to zero.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; nil while n is zero
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
		f.idle = nil
	}
}

func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
