// Package httpapi is hotpool's HTTP contract (docs/api.md) over the
// transport-neutral pool.Service: authentication, strict request decoding,
// the one error→status table, response encoding, and the adapters that carry
// it on DigitalOcean Functions events, AWS Lambda events and net/http.
//
// It owns no state and no wiring: callers hand it a *pool.Service. It must
// never log a token and never answer 500 for bad input.
package httpapi
