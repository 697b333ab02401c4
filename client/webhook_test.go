package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sign is written here from the documented format, independently of the
// server's signer, so the two are checked against the spec and each other
// (internal/events tests verify its headers with VerifySignature).
func sign(secret string, t int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10) + "." + body))
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// signFor is the v2 form, from the documented format: the receiver's name
// is under the MAC and, query-escaped, in r.
func signFor(secret, receiver string, t int64, body string) string {
	ts := strconv.FormatInt(t, 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + receiver + "." + body))
	return "t=" + ts + ",r=" + url.QueryEscape(receiver) + ",v2=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhookChecksTheReceiver(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := `{"receiver":"https://a.example/h","events":[]}`
	const a = "https://a.example/h, with a comma"
	good := signFor("s3cret", a, now.Unix(), body)
	require.Contains(t, good, "r=https%3A%2F%2Fa.example%2Fh%2C+with+a+comma,", "a comma in the name cannot split the header")
	require.NoError(t, VerifyWebhook("s3cret", a, good, []byte(body), now, time.Minute))
	require.NoError(t, VerifyWebhook("s3cret", a, signFor("old", a, now.Unix(), body)+","+strings.Split(good, ",")[2], []byte(body), now, time.Minute),
		"any v2 may match")

	v2 := strings.Split(good, ",")[2]
	for name, tc := range map[string]struct {
		receiver, header string
		want             error
	}{
		"another receiver":            {"billing", good, ErrSignatureInvalid},
		"name rewritten in header":    {"billing", "t=1800000000,r=billing," + v2, ErrSignatureInvalid},
		"no receiver in header":       {a, "t=1800000000," + v2, ErrSignatureInvalid},
		"only v1":                     {a, sign("s3cret", now.Unix(), body), ErrSignatureInvalid},
		"v2 moved to v1":              {a, "t=1800000000,r=" + url.QueryEscape(a) + ",v1=" + strings.TrimPrefix(v2, "v2="), ErrSignatureInvalid},
		"empty receiver name":         {"", good, ErrSignatureInvalid},
		"stale, for this receiver":    {a, signFor("s3cret", a, now.Unix()-120, body), ErrSignatureStale},
		"wrong secret, this receiver": {a, signFor("other", a, now.Unix(), body), ErrSignatureInvalid},
	} {
		err := VerifyWebhook("s3cret", tc.receiver, tc.header, []byte(body), now, time.Minute)
		require.ErrorIs(t, err, tc.want, name)
		require.NotContains(t, err.Error(), "s3cret", name)
	}
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := `{"events":[{"id":"1-0","type":"sandbox.ready"}]}`
	good := sign("s3cret", now.Unix(), body)

	require.NoError(t, VerifySignature("s3cret", good, []byte(body), now, time.Minute))
	require.NoError(t, VerifySignature("s3cret", good, []byte(body), now.Add(59*time.Second), time.Minute))
	require.NoError(t, VerifySignature("s3cret", good, []byte(body), now.Add(4*time.Minute), 0), "0 tolerance means 5 minutes")

	rotated := sign("old", now.Unix(), body) + "," + strings.Split(good, ",")[1]
	require.NoError(t, VerifySignature("s3cret", rotated, []byte(body), now, time.Minute), "any v1 may match")
	require.NoError(t, VerifySignature("s3cret", " v1="+strings.Split(good, "v1=")[1]+" , t="+strconv.FormatInt(now.Unix(), 10), []byte(body), now, time.Minute), "order and spaces do not matter")

	for name, tc := range map[string]struct {
		secret, header, body string
		now                  time.Time
		want                 error
	}{
		"wrong secret":     {"other", good, body, now, ErrSignatureInvalid},
		"tampered body":    {"s3cret", good, body + " ", now, ErrSignatureInvalid},
		"stale":            {"s3cret", good, body, now.Add(61 * time.Second), ErrSignatureStale},
		"from the future":  {"s3cret", good, body, now.Add(-61 * time.Second), ErrSignatureStale},
		"empty header":     {"s3cret", "", body, now, ErrSignatureInvalid},
		"no timestamp":     {"s3cret", strings.Split(good, ",")[1], body, now, ErrSignatureInvalid},
		"no v1":            {"s3cret", strings.Split(good, ",")[0], body, now, ErrSignatureInvalid},
		"bad hex":          {"s3cret", "t=1,v1=zz", body, now, ErrSignatureInvalid},
		"short mac":        {"s3cret", "t=1,v1=abcd", body, now, ErrSignatureInvalid},
		"bad timestamp":    {"s3cret", "t=soon," + strings.Split(good, ",")[1], body, now, ErrSignatureInvalid},
		"timestamp edited": {"s3cret", "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + strings.Split(good, ",")[1], body, now, ErrSignatureInvalid},
		"empty secret":     {"", good, body, now, ErrSignatureInvalid},
	} {
		err := VerifySignature(tc.secret, tc.header, []byte(tc.body), tc.now, time.Minute)
		require.ErrorIs(t, err, tc.want, name)
		require.NotContains(t, err.Error(), "s3cret", name)
		require.NotContains(t, err.Error(), strings.Split(good, "v1=")[1], name)
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("t=1,v1=00", []byte("{}"))
	f.Add(sign("k", 1_800_000_000, "{}"), []byte("{}"))
	f.Add(",,=,t=,v1=,", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		// Never panics; accepts only what the secret signed.
		err := VerifySignature("k", header, body, time.Unix(1_800_000_000, 0), time.Minute)
		if err == nil {
			require.Contains(t, header, sign("k", 1_800_000_000, string(body))[len("t=1800000000,"):])
		}
	})
}
