package appsim

import (
	"encoding/json"
	"net/http"
)

// apiError is DigitalOcean's error body (shared/models/error.yml).
type apiError struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// Error ids and messages as the spec's shared responses spell them.
var errorIDs = map[int]string{
	http.StatusBadRequest:          "bad_request",
	http.StatusUnauthorized:        "unauthorized",
	http.StatusNotFound:            "not_found",
	http.StatusConflict:            "conflict",
	http.StatusUnprocessableEntity: "unprocessable_entity",
	http.StatusTooManyRequests:     "too_many_requests",
	http.StatusInternalServerError: "server_error",
	http.StatusServiceUnavailable:  "service_unavailable",
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, requestID, message string) {
	id, ok := errorIDs[status]
	if !ok {
		id = "example_error"
	}
	writeJSON(w, status, apiError{ID: id, Message: message, RequestID: requestID})
}
