package events

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"

	"github.com/hotpool/hotpool/internal/pool"
)

// hook is one configured webhook.
type hook struct {
	id        string // names its fields in Keys.Webhooks
	url       string // as configured; never logged or stored (it may carry credentials)
	display   string // scheme://host/path, safe to log and to store
	receiver  string // the name its signatures and bodies carry (pool.Webhook.ReceiverName)
	secretEnv string
	types     map[string]bool // nil: every type
}

// hookID derives a webhook's id from its URL and secret variable, so a
// reordered config keeps every cursor and a changed receiver starts afresh.
func hookID(w pool.Webhook) string {
	sum := sha256.Sum256([]byte(w.URL + "\x00" + w.SecretEnv))
	return hex.EncodeToString(sum[:8])
}

func newHooks(ws []pool.Webhook) []hook {
	seen := map[string]bool{}
	var out []hook
	for _, w := range ws {
		id := hookID(w)
		if seen[id] {
			continue
		}
		seen[id] = true
		h := hook{id: id, url: w.URL, display: displayURL(w.URL), receiver: w.ReceiverName(), secretEnv: w.SecretEnv}
		if len(w.Events) > 0 {
			h.types = map[string]bool{}
			for _, t := range w.Events {
				h.types[t] = true
			}
		}
		out = append(out, h)
	}
	return out
}

func (h hook) wants(eventType string) bool { return h.types == nil || h.types[eventType] }

// displayURL drops the user info, query and fragment, where receivers put
// their credentials.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
