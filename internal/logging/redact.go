package logging

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces every secret the logger finds.
const Redacted = "[REDACTED]"

// secretKeyWords mark an attribute key (or a group name) as secret. Keys are
// compared lowercased with '-', '_' and '.' removed, by substring, so
// lease_token, LeaseToken, X-Agent-Token and do.api_token all match.
var secretKeyWords = []string{
	"token", "secret", "password", "passwd", "authorization", "apikey",
	"cookie", "credential", "privatekey", "claimid",
}

var keyFold = strings.NewReplacer("-", "", "_", "", ".", "")

func secretKey(key string) bool {
	k := keyFold.Replace(strings.ToLower(key))
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Value patterns, applied in order to free text.
var (
	// A bearer credential: "Authorization: Bearer abc" keeps "Bearer ".
	bearerRE = regexp.MustCompile(`(?i)(bearer\s+)[^\s",;]+`)
	// DigitalOcean personal access, OAuth and refresh tokens.
	doTokenRE = regexp.MustCompile(`do[opr]_v1_[a-fA-F0-9]{64}`)
	// hotpool's own lease tokens, claim ids and agent tokens: 256 bits as 43
	// URL-safe base64 characters, standing alone.
	hotpoolTokenRE = regexp.MustCompile(`(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}($|[^A-Za-z0-9_-])`)
)

func looksSecret(s string) bool {
	// Fast path for the short values most attributes hold (op, pool, ids):
	// every token pattern is at least 43 characters, and a bearer shorter
	// than that still says "bearer".
	if len(s) < 43 && !strings.Contains(strings.ToLower(s), "bearer") {
		return false
	}
	return bearerRE.MatchString(s) || doTokenRE.MatchString(s) || hotpoolTokenRE.MatchString(s)
}

// Scrub replaces every secret-looking run inside s with Redacted.
func Scrub(s string) string {
	s = bearerRE.ReplaceAllString(s, "${1}"+Redacted)
	s = doTokenRE.ReplaceAllString(s, Redacted)
	// Twice: one match consumes the separator a neighbouring token needs.
	for range 2 {
		s = hotpoolTokenRE.ReplaceAllString(s, "${1}"+Redacted+"${2}")
	}
	return s
}

// replaceAttr is the handler's ReplaceAttr: secret keys lose their value,
// and every string (including errors, Stringers and anything the JSON handler
// would marshal) is scrubbed.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	for _, g := range groups {
		if secretKey(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	if secretKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); looksSecret(s) {
			return slog.String(a.Key, Scrub(s))
		}
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: scrubAny(a.Value)}
	}
	return a
}

func scrubAny(v slog.Value) slog.Value {
	switch x := v.Any().(type) {
	case error:
		return slog.StringValue(Scrub(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(Scrub(x.String()))
	}
	// A struct or map is checked as the JSON handler would write it; a field
	// such as LeaseToken holds a secret value, which the value patterns catch,
	// and a secret key inside it is caught by re-reading the keys.
	raw, err := json.Marshal(v.Any())
	if err != nil {
		return v
	}
	var generic any
	if json.Unmarshal(raw, &generic) != nil {
		return v
	}
	if cleaned, changed := scrubJSON(generic); changed {
		return slog.AnyValue(cleaned)
	}
	return v
}

// scrubJSON walks a decoded JSON value, redacting secret keys and values.
func scrubJSON(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		changed := false
		for k, e := range x {
			if secretKey(k) {
				x[k], changed = Redacted, true
				continue
			}
			if c, ch := scrubJSON(e); ch {
				x[k], changed = c, true
			}
		}
		return x, changed
	case []any:
		changed := false
		for i, e := range x {
			if c, ch := scrubJSON(e); ch {
				x[i], changed = c, true
			}
		}
		return x, changed
	case string:
		if looksSecret(x) {
			return Scrub(x), true
		}
	}
	return v, false
}
