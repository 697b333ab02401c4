package pool

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSandboxID returns a fresh sandbox id: 13 lowercase base32 characters
// (64 random bits), valid inside an App Platform app name.
func NewSandboxID() string {
	var b [8]byte
	mustRand(b[:])
	return idEncoding.EncodeToString(b[:])
}

// NewToken returns 256 random bits as URL-safe base64: lease tokens, claim ids,
// lock tokens.
func NewToken() string {
	var b [32]byte
	mustRand(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func mustRand(b []byte) {
	// crypto/rand.Read never fails on supported platforms (Go 1.24 documents
	// that it crashes the program irrecoverably instead).
	_, _ = rand.Read(b)
}

// HashToken is the only form in which a token is stored: sha256, hex.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokensEqual compares two secrets in constant time.
func TokensEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Secrets derives tokens that must be reproducible without being stored: the
// lease token of an idempotent acquire or a cold claim (so a repeat answers the
// same lease), and each sandbox's agent token (handed to the lease holder alone).
type Secrets struct {
	key []byte
}

// NewSecrets keys the derivations; the key is the deployment's secret
// (HOTPOOL_SECRET, or the API token when none is set).
func NewSecrets(key string) Secrets {
	k := sha256.Sum256([]byte("hotpool/v1\x00" + key))
	return Secrets{key: k[:]}
}

func (s Secrets) derive(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// IdempotentLeaseToken is the lease token of an acquire with an idempotency
// key: derived from the acquisition's random nonce, kept with its record, so
// a repeat answers the same token and the next acquisition with the same key
// (after a release) gets a new one. An empty nonce is a record written before
// nonces, whose token came from the pool and key alone.
func (s Secrets) IdempotentLeaseToken(pool, idempotencyKey, nonce string) string {
	if nonce == "" {
		return s.derive("lease-idem", pool, idempotencyKey)
	}
	return s.derive("lease-idem-nonce", pool, idempotencyKey, nonce)
}

// IdempotentClaimID is the claim id of an acquire with an idempotency key
// that made a cold claim: derived from the acquisition's nonce, which the
// claim keeps, so a retry with the same key answers the same claim.
func (s Secrets) IdempotentClaimID(pool, idempotencyKey, nonce string) string {
	return s.derive("claim-idem", pool, idempotencyKey, nonce)
}

// ClaimLeaseToken is the lease token handed out when a cold claim is served.
func (s Secrets) ClaimLeaseToken(claimID string) string {
	return s.derive("lease-claim", claimID)
}

// AgentToken is the bearer token of a sandbox's service-mode agent.
func (s Secrets) AgentToken(sandboxID string) string {
	return s.derive("agent", sandboxID)
}

// MinSecretLength is the shortest HOTPOOL_SECRET accepted: it keys every
// derived agent and lease token, so it must be as hard to guess as a key.
const MinSecretLength = 32

// CheckSecret refuses a derivation secret that is blank or short. It never
// repeats the secret.
func CheckSecret(secret string) error {
	switch n := len(strings.TrimSpace(secret)); {
	case n == 0:
		return errors.New("HOTPOOL_SECRET is not set: it keys every sandbox's agent token and must be its own random value of at least 32 bytes (openssl rand -hex 32), not the API token")
	case n < MinSecretLength:
		return fmt.Errorf("HOTPOOL_SECRET is %d bytes: it must be at least %d (openssl rand -hex 32)", n, MinSecretLength)
	}
	return nil
}
