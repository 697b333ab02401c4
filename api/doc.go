// Package api is hotpool's wire format: the JSON bodies of the HTTP contract
// (docs/api.md, docs/openapi.yaml) and its stable error codes, defined once.
// The server encodes these types and the Go client decodes them, so a field
// cannot drift between the two. It imports nothing of hotpool's, and holds
// no behaviour beyond reading a body.
package api
