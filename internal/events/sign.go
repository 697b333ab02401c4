package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"
)

// SignatureHeader is the header that carries Sign's value.
const SignatureHeader = "X-Hotpool-Signature"

// Sign returns the X-Hotpool-Signature value of body signed at t for the
// receiver named receiver:
//
//	t=<unix>,r=<receiver, query-escaped>,v2=<hex HMAC-SHA256(secret, "<unix>.<receiver>.<body>")>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>
//
// v2 names its receiver, so a receiver that checks the name refuses a
// delivery signed for another one even if the two were given one secret. v1
// is the earlier form, kept so verifiers written for it go on working.
func Sign(secret, receiver string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",r=" + url.QueryEscape(receiver) +
		",v2=" + mac(secret, body, ts, receiver) + ",v1=" + mac(secret, body, ts)
}

// mac is the hex HMAC-SHA256 of the parts joined by dots, then a dot and body.
func mac(secret string, body []byte, parts ...string) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{'.'})
	}
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
