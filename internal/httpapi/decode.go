package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// Length caps of the string fields: far above any real value, low enough that
// no request makes the Store hash or look up megabytes.
const (
	maxIDLen    = 128 // sandbox ids, claim ids, pool names
	maxTokenLen = 256
)

// decodeStrict reads exactly one JSON object into v: unknown fields, wrong
// types and trailing data are invalid_request naming the field. An empty body
// is allowed only when allowEmpty is set (v keeps its zero value).
func decodeStrict(body []byte, v any, allowEmpty bool) error {
	if len(body) > MaxBodyBytes {
		return pool.InvalidField("body", "must be at most %d bytes", MaxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return pool.InvalidField("body", "is required: a JSON object")
	}
	// encoding/json matches names case-insensitively and takes the last of
	// two same keys; the contract's names are exact and said once.
	if err := exactKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return pool.InvalidField("body", "unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns encoding/json's errors into field errors.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return pool.InvalidField("body", "must be a JSON object")
		}
		return pool.InvalidField(te.Field, "must be %s (got %s)", typeWords(te.Type), te.Value)
	case errors.As(err, &se):
		return pool.InvalidField("body", "malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return pool.InvalidField("body", "malformed JSON: unexpected end")
	}
	// encoding/json reports an unknown field only as text: json: unknown field "x".
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name = strings.Trim(name, `"`); name == "" {
			return pool.InvalidField("body", "has a field with an empty name")
		}
		return pool.InvalidField(name, "is not a known field")
	}
	return pool.InvalidField("body", "malformed JSON: %v", err)
}

func typeWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer in range"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of type " + t.String()
}

// stringField checks a present string field's length; required ones must be set.
func stringField(name string, v *string, required bool, maxLen int) (string, error) {
	if v == nil {
		if required {
			return "", pool.InvalidField(name, "is required")
		}
		return "", nil
	}
	if *v == "" {
		return "", pool.InvalidField(name, "must not be empty")
	}
	if len(*v) > maxLen {
		return "", pool.InvalidField(name, "must be at most %d characters", maxLen)
	}
	return *v, nil
}

type acquireBody struct {
	Image          *string `json:"image"`
	LeaseSeconds   *int    `json:"lease_seconds"`
	WaitSeconds    *int    `json:"wait_seconds"`
	IdempotencyKey *string `json:"idempotency_key"`
	ClaimID        *string `json:"claim_id"`
}

// DecodeAcquire reads a POST /acquire body. lease_seconds' upper bound
// (max_lease) is the service's to check: it depends on the config.
func DecodeAcquire(body []byte) (pool.AcquireRequest, error) {
	var b acquireBody
	if err := decodeStrict(body, &b, false); err != nil {
		return pool.AcquireRequest{}, err
	}
	if b.ClaimID != nil {
		if b.Image != nil || b.LeaseSeconds != nil || b.WaitSeconds != nil || b.IdempotencyKey != nil {
			return pool.AcquireRequest{}, pool.InvalidField("claim_id", "must be the only field when polling a claim")
		}
		id, err := stringField("claim_id", b.ClaimID, true, maxTokenLen)
		return pool.AcquireRequest{ClaimID: id}, err
	}
	var r pool.AcquireRequest
	var err error
	if r.Image, err = stringField("image", b.Image, true, maxIDLen); err != nil {
		return pool.AcquireRequest{}, err
	}
	if b.LeaseSeconds != nil {
		if *b.LeaseSeconds < 1 {
			return pool.AcquireRequest{}, pool.InvalidField("lease_seconds", "must be at least 1")
		}
		r.LeaseSeconds = *b.LeaseSeconds
	}
	if b.WaitSeconds != nil {
		if *b.WaitSeconds < 0 || *b.WaitSeconds > pool.MaxWaitSeconds {
			return pool.AcquireRequest{}, pool.InvalidField("wait_seconds", "must be between 0 and %d", pool.MaxWaitSeconds)
		}
		r.WaitSeconds = *b.WaitSeconds
	}
	if b.IdempotencyKey != nil {
		if !pool.ValidIdempotencyKey(*b.IdempotencyKey) {
			return pool.AcquireRequest{}, pool.InvalidField("idempotency_key", "must be 1-%d printable ASCII characters", pool.MaxIdempotencyKeyLen)
		}
		r.IdempotencyKey = *b.IdempotencyKey
	}
	return r, nil
}

// LeaseRequest is a decoded renew or release.
type LeaseRequest struct {
	SandboxID    string
	LeaseToken   string
	LeaseSeconds int // renew only; 0: default_lease
}

type leaseBody struct {
	SandboxID    *string `json:"sandbox_id"`
	LeaseToken   *string `json:"lease_token"`
	LeaseSeconds *int    `json:"lease_seconds"`
}

type releaseBody struct {
	SandboxID  *string `json:"sandbox_id"`
	LeaseToken *string `json:"lease_token"`
}

type cancelBody struct {
	ClaimID *string `json:"claim_id"`
}

// DecodeCancel reads a POST /acquire/cancel body: the claim id alone.
func DecodeCancel(body []byte) (string, error) {
	var b cancelBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", err
	}
	if b.ClaimID == nil || *b.ClaimID == "" {
		return "", pool.InvalidField("claim_id", "is required")
	}
	if len(*b.ClaimID) > 256 {
		return "", pool.InvalidField("claim_id", "is too long")
	}
	return *b.ClaimID, nil
}

// DecodeRenew reads a POST /acquire/renew body.
func DecodeRenew(body []byte) (LeaseRequest, error) {
	var b leaseBody
	if err := decodeStrict(body, &b, false); err != nil {
		return LeaseRequest{}, err
	}
	r, err := leaseFields(b.SandboxID, b.LeaseToken)
	if err != nil {
		return LeaseRequest{}, err
	}
	if b.LeaseSeconds != nil {
		if *b.LeaseSeconds < 1 {
			return LeaseRequest{}, pool.InvalidField("lease_seconds", "must be at least 1")
		}
		r.LeaseSeconds = *b.LeaseSeconds
	}
	return r, nil
}

// DecodeRelease reads a POST /release body.
func DecodeRelease(body []byte) (LeaseRequest, error) {
	var b releaseBody
	if err := decodeStrict(body, &b, false); err != nil {
		return LeaseRequest{}, err
	}
	return leaseFields(b.SandboxID, b.LeaseToken)
}

func leaseFields(id, token *string) (LeaseRequest, error) {
	var r LeaseRequest
	var err error
	if r.SandboxID, err = stringField("sandbox_id", id, true, maxIDLen); err != nil {
		return LeaseRequest{}, err
	}
	if r.LeaseToken, err = stringField("lease_token", token, true, maxTokenLen); err != nil {
		return LeaseRequest{}, err
	}
	return r, nil
}

// Reconcile actions (docs/api.md, POST /reconcile).
const (
	ActionPass     = api.ActionPass
	ActionRun      = api.ActionRun // passes while work is in flight, within the deadline (a kick)
	ActionShutdown = api.ActionShutdown
	ActionStart    = api.ActionStart
	ActionWarmUp   = api.ActionWarmUp
)

// ReconcileRequest is a decoded POST /reconcile.
type ReconcileRequest struct {
	Action         string
	Pool           string // shutdown/start: "" is the whole manager
	TimeoutSeconds int    // warm_up
}

type reconcileBody struct {
	Action         *string `json:"action"`
	Pool           *string `json:"pool"`
	TimeoutSeconds *int    `json:"timeout_seconds"`
}

// DecodeReconcile reads a POST /reconcile body; empty or {} is a pass.
func DecodeReconcile(body []byte) (ReconcileRequest, error) {
	return decodeReconcile(body, "")
}

// DecodeAdmin reads the body of an admin action's own route
// (/reconcile/shutdown, /start, /warm-up): empty or {} is the action with
// its defaults; an action field may only repeat the route's.
func DecodeAdmin(body []byte, action string) (ReconcileRequest, error) {
	return decodeReconcile(body, action)
}

func decodeReconcile(body []byte, route string) (ReconcileRequest, error) {
	var b reconcileBody
	if err := decodeStrict(body, &b, true); err != nil {
		return ReconcileRequest{}, err
	}
	r := ReconcileRequest{Action: ActionPass}
	if route != "" {
		r.Action = route
		if b.Action != nil && *b.Action != route {
			return ReconcileRequest{}, pool.InvalidField("action", "must be %s on this route, or left out", route)
		}
		b.Action = nil
	}
	if b.Action != nil {
		r.Action = *b.Action
	}
	switch r.Action {
	case ActionPass, ActionRun, ActionShutdown, ActionStart, ActionWarmUp:
	default:
		return ReconcileRequest{}, pool.InvalidField("action", "must be one of pass, run, shutdown, start, warm_up")
	}
	if b.Pool != nil {
		if r.Action != ActionShutdown && r.Action != ActionStart {
			return ReconcileRequest{}, pool.InvalidField("pool", "is only allowed with action shutdown or start")
		}
		p, err := stringField("pool", b.Pool, false, maxIDLen)
		if err != nil {
			return ReconcileRequest{}, err
		}
		r.Pool = p
	}
	if b.TimeoutSeconds != nil {
		if r.Action != ActionWarmUp {
			return ReconcileRequest{}, pool.InvalidField("timeout_seconds", "is only allowed with action warm_up")
		}
		if *b.TimeoutSeconds < 0 || *b.TimeoutSeconds > pool.MaxWaitSeconds {
			return ReconcileRequest{}, pool.InvalidField("timeout_seconds", "must be between 0 and %d", pool.MaxWaitSeconds)
		}
		r.TimeoutSeconds = *b.TimeoutSeconds
	}
	return r, nil
}

// metricsFormat reads ?format= and Accept: "json" or "prometheus".
func metricsFormat(query, accept string) (string, error) {
	q, err := parseQuery(query)
	if err != nil {
		return "", err
	}
	switch f := q.Get("format"); f {
	case "json", "prometheus":
		return f, nil
	case "":
	default:
		return "", pool.InvalidField("format", "must be json or prometheus")
	}
	if strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json") {
		return "prometheus", nil
	}
	return "json", nil
}

func parseQuery(q string) (url.Values, error) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil, pool.InvalidField("query", "malformed query string")
	}
	return v, nil
}

// exactKeys checks the top-level object's keys against v's JSON field names,
// exactly, and refuses a key given twice. A body that is not an object is
// left to the decoder, which says so.
func exactKeys(body []byte, v any) error {
	names := map[string]bool{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		field := key
		if field == "" {
			field = "body"
		}
		switch {
		case seen[key]:
			return pool.InvalidField(field, "is given twice")
		case !names[key]:
			for n := range names {
				if strings.EqualFold(n, key) {
					return pool.InvalidField(field, "unknown field (names are exact-case: %s)", n)
				}
			}
			return pool.InvalidField(field, "unknown field %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}
