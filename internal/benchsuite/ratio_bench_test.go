package benchsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// startLocal runs the local server on the real redis-server under the
// test's prefix, with the reconcile loop off (nothing calls the platform),
// and seeds n ready sandboxes.
func startLocal(b *testing.B, n int) *localserver.Server {
	b.Helper()
	_, prefix := redistest.Client(b)
	s, err := localserver.Start(context.Background(), localserver.Options{
		Addr: "127.0.0.1:0", Config: benchConfig(b), Token: benchToken, RedisURL: redistest.URL(), KeyPrefix: prefix,
		ReconcileEvery: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	seedReady(context.Background(), b, s.Store, benchPool, n, 0, pool.SystemClock{}.Now())
	return s
}

// loopbackPair is acquire + release over HTTP on a kept-alive connection.
func loopbackPair(ctx context.Context, hc *http.Client, base string) error {
	var a acquireAnswer
	if err := postJSON(ctx, hc, base+"/acquire", []byte(`{"image":"python"}`), &a); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"sandbox_id": a.Sandbox.ID, "lease_token": a.Lease.Token})
	return postJSON(ctx, hc, base+"/release", body, nil)
}

func postJSON(ctx context.Context, hc *http.Client, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkLayerRatios measures every layer in the same loop, one after the
// other on each iteration, so a load spike on this shared machine hits them
// all alike; it reports each layer's median and the ratios between them:
//
//	raw-us        EVALSHA of "return 1" (one round trip, the floor)
//	acquire-us    Store.Acquire alone (one EVALSHA of acquire.lua)
//	store-us      Store.Acquire + Store.Release
//	service-us    the service's acquire + release (tokens minted, hashed)
//	handler-us    the HTTP handler in-process (auth, decoding, encoding, log line)
//	server-us     the local server over loopback HTTP, one client, kept-alive
//
// One op is one iteration of all six.
func BenchmarkLayerRatios(b *testing.B) {
	s := startLocal(b, 4*b.N)
	ctx := context.Background()
	raw := redis.NewScript("return 1")
	if err := raw.Load(ctx, s.Redis).Err(); err != nil {
		b.Fatal(err)
	}
	rawKeys := []string{s.Store.Keys().Lock()}
	cfg := s.Config()
	pc, _ := cfg.Pool(benchPool)
	hash := pool.HashToken("lease-token")
	headers := map[string]string{"authorization": "Bearer " + benchToken, "content-type": "application/json"}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var rawD, acqD, storeD, svcD, hdlD, srvD []time.Duration
	clock := pool.SystemClock{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := clock.Now()
		if err := raw.EvalSha(ctx, s.Redis, rawKeys).Err(); err != nil {
			b.Fatal(err)
		}
		t1 := clock.Now()
		res, err := s.Store.Acquire(ctx, pool.AcquireParams{Pool: benchPool, OnEmpty: pool.OnEmptyFail, Caps: pool.CapsFor(cfg, pc),
			LeaseTTL: 15 * time.Minute, LeaseTokenHash: hash, Now: t1})
		if err != nil {
			b.Fatal(err)
		}
		t2 := clock.Now()
		if _, err := s.Store.Release(ctx, res.Sandbox.ID, hash, t2); err != nil {
			b.Fatal(err)
		}
		t3 := clock.Now()
		a, err := s.Service().Acquire(ctx, pool.AcquireRequest{Image: benchPool})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Service().Release(ctx, a.Sandbox.ID, a.LeaseToken); err != nil {
			b.Fatal(err)
		}
		t4 := clock.Now()
		resp := s.Handler().Handle(ctx, httpapi.Request{Method: http.MethodPost, Path: "/acquire", Headers: headers, Body: []byte(`{"image":"python"}`)})
		var ans acquireAnswer
		if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &ans) != nil {
			b.Fatalf("handler acquire: %d %s", resp.Status, resp.Body)
		}
		body, _ := json.Marshal(map[string]string{"sandbox_id": ans.Sandbox.ID, "lease_token": ans.Lease.Token})
		if resp = s.Handler().Handle(ctx, httpapi.Request{Method: http.MethodPost, Path: "/release", Headers: headers, Body: body}); resp.Status != http.StatusOK {
			b.Fatalf("handler release: %d %s", resp.Status, resp.Body)
		}
		t5 := clock.Now()
		if err := loopbackPair(ctx, hc, s.BaseURL); err != nil {
			b.Fatal(err)
		}
		t6 := clock.Now()
		rawD, acqD, storeD = append(rawD, t1.Sub(t0)), append(acqD, t2.Sub(t1)), append(storeD, t3.Sub(t1))
		svcD, hdlD, srvD = append(svcD, t4.Sub(t3)), append(hdlD, t5.Sub(t4)), append(srvD, t6.Sub(t5))
	}
	b.StopTimer()
	r, acq, st, sv, hd, sr := median(rawD), median(acqD), median(storeD), median(svcD), median(hdlD), median(srvD)
	b.ReportMetric(us(r), "raw-us")
	b.ReportMetric(us(acq), "acquire-us")
	b.ReportMetric(us(st), "store-us")
	b.ReportMetric(us(sv), "service-us")
	b.ReportMetric(us(hd), "handler-us")
	b.ReportMetric(us(sr), "server-us")
	b.ReportMetric(float64(acq)/float64(r), "acquire/raw")
	b.ReportMetric(float64(hd)/float64(st), "handler/store")
	b.ReportMetric(float64(sr)/float64(hd), "server/handler")
}
