package appplatform

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hotpool/hotpool/internal/pool"
)

// Health asks the app's health path at its live URL. The split between a
// definite failure and an unknown answer:
//   - 2xx: healthy (nil).
//   - any other status the app (or App Platform's edge in front of it)
//     answered, except 429: definite, ErrUnhealthy. The platform reached the
//     app's route and it did not serve.
//   - 429, a timeout (each request ends at HealthTimeout), a refused or
//     reset connection, DNS failure: unknown (wraps pool.ErrProviderUnknown).
//     The path between this function and the app failed, which says nothing
//     about the app; Get reports a gone app.
//   - no live URL: ErrUnhealthy; the app does not serve (yet).
//
// Health calls go to the app, not the API: they use no budget and are not counted.
func (p *Provider) Health(ctx context.Context, app pool.App, path string) error {
	if app.URL == "" {
		return fmt.Errorf("%w: app %s has no live URL", ErrUnhealthy, app.ID)
	}
	if path == "" {
		path = pool.DefaultHealthPath
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	ctx, cancel := context.WithTimeout(ctx, p.healthWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(app.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("%w: app %s: bad health URL: %v", ErrUnhealthy, app.ID, err)
	}
	resp, err := p.health.Do(req)
	if err != nil {
		return fmt.Errorf("appplatform: health of app %s: %w (%w)", app.ID, pool.ErrProviderUnknown, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("appplatform: health of app %s: 429: %w", app.ID, pool.ErrProviderUnknown)
	}
	return fmt.Errorf("%w: app %s answered %d on %s", ErrUnhealthy, app.ID, resp.StatusCode, path)
}
