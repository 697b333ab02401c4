package events

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// Defaults of the delivery options.
const (
	DefaultBatchSize      = 20
	DefaultBackoffBase    = 30 * time.Second
	DefaultBackoffMax     = 30 * time.Minute
	DefaultRequestTimeout = 10 * time.Second
	// DefaultDeadMaxLen caps the dead letter stream (approximately).
	DefaultDeadMaxLen = 10000
	// scanCount is how many stream entries one read looks at to fill a batch.
	scanCount = 100
)

// Option adjusts a Deliverer.
type Option func(*Deliverer)

// WithMaxAttempts sets how many POSTs a batch gets before it is dead-lettered
// (config webhook_max_attempts; default pool.DefaultWebhookAttempts).
func WithMaxAttempts(n int) Option {
	return func(d *Deliverer) {
		if n >= 1 {
			d.maxAttempts = n
		}
	}
}

// WithBatchSize sets the most events one POST carries.
func WithBatchSize(n int) Option {
	return func(d *Deliverer) {
		if n >= 1 {
			d.batchSize = n
		}
	}
}

// WithBackoff sets the wait after the first failed attempt and its cap; the
// wait doubles with each attempt.
func WithBackoff(base, max time.Duration) Option {
	return func(d *Deliverer) {
		if base > 0 && max >= base {
			d.backoffBase, d.backoffMax = base, max
		}
	}
}

// WithRequestTimeout bounds one POST (the pass's deadline bounds it too).
func WithRequestTimeout(t time.Duration) Option {
	return func(d *Deliverer) {
		if t > 0 {
			d.requestTimeout = t
		}
	}
}

// Deliverer sends the outbox of one deployment to its webhooks.
type Deliverer struct {
	rdb            redis.Cmdable
	keys           redisstate.Keys
	deployment     string
	hooks          []hook
	secrets        func(env string) string
	hc             *http.Client
	clock          pool.Clock
	log            *slog.Logger
	maxAttempts    int
	batchSize      int
	backoffBase    time.Duration
	backoffMax     time.Duration
	requestTimeout time.Duration
}

// NewDeliverer builds a Deliverer for the deployment prefix. secrets reads a
// webhook's secret_env (nil: os.Getenv); a nil httpClient gets a plain one; a
// nil logger discards.
func NewDeliverer(rdb redis.Cmdable, prefix string, webhooks []pool.Webhook, secrets func(env string) string,
	httpClient *http.Client, clock pool.Clock, logger *slog.Logger, opts ...Option) *Deliverer {
	// A copy, so the caller's client is left as it is: redirects are not
	// followed, because a 301/302 turns the POST into a bodiless GET whose
	// 2xx would acknowledge events the receiver never saw. A 3xx is a failure.
	hc := http.Client{}
	if httpClient != nil {
		hc = *httpClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if secrets == nil {
		secrets = os.Getenv
	}
	d := &Deliverer{
		rdb: rdb, keys: redisstate.NewKeys(prefix), deployment: prefix, hooks: newHooks(webhooks),
		secrets: secrets, hc: &hc, clock: clock, log: logger,
		maxAttempts: pool.DefaultWebhookAttempts, batchSize: DefaultBatchSize,
		backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax, requestTimeout: DefaultRequestTimeout,
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Report is what one Deliver did.
type Report struct {
	Delivered    int      `json:"delivered"`      // events a receiver acknowledged
	Skipped      int      `json:"skipped"`        // events a webhook's filter passed over
	Malformed    int      `json:"malformed"`      // outbox entries that could not be read, passed over
	Attempts     int      `json:"attempts"`       // POSTs sent
	Failures     int      `json:"failures"`       // POSTs that failed (non-2xx, network, timeout)
	DeadLettered int      `json:"dead_lettered"`  // events moved to the dead letter stream
	Waiting      int      `json:"waiting"`        // webhooks whose head waits for its backoff
	Trimmed      int64    `json:"trimmed"`        // outbox entries removed
	Gaps         int      `json:"gaps,omitempty"` // webhooks found behind entries the outbox cap dropped
	Errors       []string `json:"errors,omitempty"`
}

// payload is the JSON body of one POST (client.WebhookPayload).
type payload struct {
	Deployment string             `json:"deployment"`
	Receiver   string             `json:"receiver"`
	Events     []redisstate.Event `json:"events"`
}

// Deliver sends what each webhook has not acknowledged yet, one batch per
// webhook in turn so a slow or failing receiver cannot starve the others,
// until every webhook is caught up, waiting for a backoff, or ctx ends. It
// then trims the outbox. The error is a Redis failure; receiver failures are
// counted in the report and retried by a later pass.
func (d *Deliverer) Deliver(ctx context.Context) (Report, error) {
	var rep Report
	if len(d.hooks) == 0 {
		return rep, nil
	}
	var errs []error
	active := make([]bool, len(d.hooks))
	for i := range active {
		active[i] = true
	}
	for more := true; more && ctx.Err() == nil; {
		more = false
		for i := range d.hooks {
			if !active[i] || ctx.Err() != nil {
				continue
			}
			again, err := d.step(ctx, d.hooks[i], &rep)
			if err != nil {
				errs = append(errs, err)
				rep.Errors = append(rep.Errors, err.Error())
			}
			active[i] = again && err == nil
			more = more || active[i]
		}
	}
	if ctx.Err() == nil {
		n, err := d.trim(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		rep.Trimmed = n
	}
	return rep, errors.Join(errs...)
}

// headState is one webhook's row of Keys.Webhooks.
type headState struct {
	cursor   string // "" before its first acknowledgement
	attempts int
	nextAt   time.Time
}

func (d *Deliverer) readState(ctx context.Context, h hook) (headState, error) {
	vals, err := d.rdb.HMGet(ctx, d.keys.Webhooks(), h.id+".cursor", h.id+".attempts", h.id+".next_at").Result()
	if err != nil {
		return headState{}, fmt.Errorf("events: read webhook %s state: %w", h.display, err)
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	st := headState{cursor: str(0)}
	st.attempts, _ = strconv.Atoi(str(1))
	if ms, err := strconv.ParseInt(str(2), 10, 64); err == nil && ms > 0 {
		st.nextAt = time.UnixMilli(ms)
	}
	return st, nil
}

// step sends one batch to h. It reports whether h may have more to send now.
func (d *Deliverer) step(ctx context.Context, h hook, rep *Report) (bool, error) {
	st, err := d.readState(ctx, h)
	if err != nil {
		return false, err
	}
	now := d.clock.Now()
	if now.Before(st.nextAt) {
		rep.Waiting++
		return false, nil
	}
	if err := d.checkGap(ctx, h, st.cursor, now, rep); err != nil {
		return false, err
	}
	msgs, err := d.rdb.XRangeN(ctx, d.keys.Events(), after(st.cursor), "+", scanCount).Result()
	if err != nil {
		return false, fmt.Errorf("events: read outbox: %w", err)
	}
	if len(msgs) == 0 {
		return false, nil
	}
	batch, last, skipped, malformed := d.collect(h, msgs)
	if len(batch) == 0 {
		moved, err := d.ack(ctx, h, st.cursor, last)
		if err == nil && moved {
			rep.Skipped += skipped
			rep.Malformed += malformed
		}
		return moved, err
	}
	secret, err := d.secretOf(h)
	if err != nil {
		// A missing or shared secret is a deployment mistake, not the
		// receiver's: no attempt is counted, and the events wait until it is fixed.
		return false, err
	}
	body, err := json.Marshal(payload{Deployment: d.deployment, Receiver: h.receiver, Events: batch})
	if err != nil {
		return false, fmt.Errorf("events: encode batch: %w", err)
	}
	rep.Attempts++
	postErr := d.post(ctx, h, secret, body)
	if postErr == nil {
		moved, err := d.ack(ctx, h, st.cursor, last)
		if err == nil && moved {
			rep.Delivered += len(batch)
			rep.Skipped += skipped
			rep.Malformed += malformed
		}
		return moved, err
	}
	if ctx.Err() != nil {
		// Cut short by our own deadline: not the receiver's failure.
		return false, nil
	}
	rep.Failures++
	code, attempts, err := d.fail(ctx, h, st, last, batch, postErr, now)
	if err != nil {
		return false, err
	}
	switch code {
	case failDeadLettered:
		rep.DeadLettered += len(batch)
		rep.Skipped += skipped
		rep.Malformed += malformed
		d.log.LogAttrs(ctx, slog.LevelError, "webhook dead letter", slog.String("op", "webhook"),
			slog.String("webhook", h.display), slog.Int("events", len(batch)), slog.Int("attempts", attempts),
			slog.String("outcome", "dead_lettered"), slog.String("error", postErr.Error()))
		return true, nil
	case failRetryLater:
		rep.Waiting++
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhook delivery failed", slog.String("op", "webhook"),
			slog.String("webhook", h.display), slog.Int("events", len(batch)), slog.Int("attempts", attempts),
			slog.String("outcome", "retry"), slog.String("error", postErr.Error()))
	}
	return false, nil
}

// collect walks the entries after the cursor and takes up to batchSize that
// h wants. last is the id of the last entry walked: the cursor once the batch
// is acknowledged (entries h skips move with it).
func (d *Deliverer) collect(h hook, msgs []redis.XMessage) (batch []redisstate.Event, last string, skipped, malformed int) {
	for _, m := range msgs {
		e, err := redisstate.ParseEvent(m)
		switch {
		case err != nil:
			// An entry no script wrote cannot be delivered meaningfully;
			// blocking on it would stop the webhook forever.
			d.log.Error("outbox entry unreadable, passed over", "op", "webhook", "event_id", m.ID, "error", err)
			malformed++
		case h.wants(e.Type):
			batch = append(batch, e)
		default:
			skipped++
		}
		last = m.ID
		if len(batch) == d.batchSize {
			break
		}
	}
	return batch, last, skipped, malformed
}

// secretOf reads h's secret. It refuses an empty one, and one that another
// webhook's variable also holds: either receiver could then sign events as
// hotpool for the other (the config refuses a shared variable name; this
// also catches two names set to one value).
func (d *Deliverer) secretOf(h hook) (string, error) {
	secret := d.secrets(h.secretEnv)
	if secret == "" {
		return "", fmt.Errorf("events: webhook %s: secret variable %s is empty; not delivering", h.display, h.secretEnv)
	}
	for _, o := range d.hooks {
		if o.id != h.id &&
			subtle.ConstantTimeCompare([]byte(d.secrets(o.secretEnv)), []byte(secret)) == 1 {
			return "", fmt.Errorf("events: webhook %s: secret variables %s and %s (webhook %s) hold the same value; each receiver needs its own secret; not delivering",
				h.display, h.secretEnv, o.secretEnv, o.display)
		}
	}
	return secret, nil
}

func (d *Deliverer) post(ctx context.Context, h hook, secret string, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, d.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad webhook url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hotpool-webhook/1")
	req.Header.Set(SignatureHeader, Sign(secret, h.receiver, d.clock.Now(), body))
	resp, err := d.hc.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may carry credentials.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fmt.Errorf("post: %s", strings.ReplaceAll(err.Error(), h.url, h.display))
	}
	defer resp.Body.Close()
	// Drained so the connection is reused; capped so a huge answer costs little.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// checkGap reports, once, that the outbox dropped events h never got: its
// cap trimmed entries past h's cursor (lib.lua notes how far in the
// manager's events_trimmed_to). A gap marker goes to the dead letter stream
// and into the report; delivery goes on from the oldest entry kept. A new
// webhook (no cursor) starts from the oldest entry anyway and has no gap. A
// cursor exactly on the last dropped entry is reported too: the trim does
// not say which entry was last.
func (d *Deliverer) checkGap(ctx context.Context, h hook, cursor string, now time.Time, rep *Report) error {
	if cursor == "" {
		return nil
	}
	trimmedTo, err := d.rdb.HGet(ctx, d.keys.Manager(), "events_trimmed_to").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("events: read outbox trim mark: %w", err)
	}
	if !idBefore(cursor, trimmedTo) {
		return nil
	}
	n, err := gapScript.Run(ctx, d.rdb, []string{d.keys.Webhooks(), d.keys.DeadEvents()},
		h.id, cursor, trimmedTo, h.display, DefaultDeadMaxLen, now.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("events: report outbox gap for %s: %w", h.display, err)
	}
	if n == 1 {
		rep.Gaps++
		msg := fmt.Sprintf("events: webhook %s lost events: the outbox cap dropped entries after %s (kept from %s); a gap marker is in the dead letter stream", h.display, cursor, trimmedTo)
		rep.Errors = append(rep.Errors, msg)
		d.log.Error("outbox gap", "op", "webhook", "webhook", h.display, "cursor", cursor, "trimmed_to", trimmedTo)
	}
	return nil
}

// idBefore reports whether stream id a sorts before b ("ms-seq").
func idBefore(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseUint(am, 10, 64)
	bmi, _ := strconv.ParseUint(bm, 10, 64)
	if ami != bmi {
		return ami < bmi
	}
	asi, _ := strconv.ParseUint(as, 10, 64)
	bsi, _ := strconv.ParseUint(bs, 10, 64)
	return asi < bsi
}

func (d *Deliverer) ack(ctx context.Context, h hook, expected, cursor string) (bool, error) {
	n, err := ackScript.Run(ctx, d.rdb, []string{d.keys.Webhooks()}, h.id, expected, cursor).Int()
	if err != nil {
		return false, fmt.Errorf("events: ack webhook %s: %w", h.display, err)
	}
	return n == 1, nil
}

func (d *Deliverer) fail(ctx context.Context, h hook, st headState, cursor string, batch []redisstate.Event, cause error, now time.Time) (code, attempts int, err error) {
	msg := cause.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	args := []any{h.id, st.cursor, cursor, d.maxAttempts,
		now.Add(d.backoff(st.attempts + 1)).UnixMilli(), msg, h.display, DefaultDeadMaxLen}
	for _, e := range batch {
		args = append(args, e.ID, e.Type, e.Pool, e.SandboxID, e.At.UnixMilli(), e.Reason)
	}
	res, err := failScript.Run(ctx, d.rdb, []string{d.keys.Webhooks(), d.keys.DeadEvents()}, args...).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("events: record failed delivery to %s: %w", h.display, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("events: record failed delivery to %s: script answered %v", h.display, res)
	}
	return int(res[0]), int(res[1]), nil
}

// backoff is the wait after the attempt-th failure: base·2^(attempt-1),
// capped, less up to a quarter at random so receivers that failed together
// do not retry together (the jitter only ever shortens the wait).
func (d *Deliverer) backoff(attempt int) time.Duration {
	w := d.backoffMax
	if attempt-1 < 32 {
		if v := d.backoffBase << (attempt - 1); v > 0 && v < w {
			w = v
		}
	}
	return w - rand.N(w/4+1)
}

// trim removes the outbox entries every webhook has passed.
func (d *Deliverer) trim(ctx context.Context) (int64, error) {
	ids := make([]any, len(d.hooks))
	for i, h := range d.hooks {
		ids[i] = h.id
	}
	n, err := trimScript.Run(ctx, d.rdb, []string{d.keys.Webhooks(), d.keys.Events()}, ids...).Int64()
	if err != nil {
		return 0, fmt.Errorf("events: trim outbox: %w", err)
	}
	return n, nil
}

// after is the XRANGE start just past cursor ("-" from the beginning). It
// builds the next id itself rather than use "(" so it works on every Redis
// and on miniredis.
func after(cursor string) string {
	ms, seq, ok := strings.Cut(cursor, "-")
	if !ok {
		return "-"
	}
	s, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return "-"
	}
	if s == ^uint64(0) {
		m, err := strconv.ParseUint(ms, 10, 64)
		if err != nil {
			return "-"
		}
		return strconv.FormatUint(m+1, 10) + "-0"
	}
	return ms + "-" + strconv.FormatUint(s+1, 10)
}
