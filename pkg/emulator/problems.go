package emulator

import (
	"encoding/json"
	"net/http"
)

// Problem kinds of the public API (api-problems.yaml), serialised by Airbyte with
// Content-Type application/json (not application/problem+json).
type problemKind struct {
	status int
	typ    string
	title  string
	detail string
}

const errorsDoc = "https://reference.airbyte.com/reference/errors"

var (
	probNotFound      = problemKind{404, errorsDoc + "#resource-not-found", "resource-not-found", "The requested resource could not be found."}
	probBadRequest    = problemKind{400, errorsDoc + "#bad-request", "bad-request", "The request could not be understood by the server due to malformed syntax."}
	probInvalidAPIKey = problemKind{401, errorsDoc + "#invalid-api-key", "invalid-api-key", "The API key in the Authorization header is invalid."}
	probStateConflict = problemKind{409, errorsDoc + "#409-state-conflict", "state-conflict", "State conflict"}
	probTryAgainLater = problemKind{409, errorsDoc + "#try-again-later", "try-again-later", "Please try again later."}
	probUnprocessable = problemKind{422, errorsDoc + "#unprocessable-entity", "unprocessable-entity", "The body of the request was not understood"}
	probUnexpected    = problemKind{500, errorsDoc, "unexpected-problem", "An unexpected problem has occurred. If this is an error that needs to be addressed, please submit a pull request or github issue."}
	probUnknownValue  = problemKind{400, errorsDoc, "value-not-found", "The submitted value could not be found."}
	probLocked        = problemKind{409, "error:connection/locked", "Connection is locked", "The connection is locked and cannot be modified."}
)

// Resource types Airbyte names in 404 problems (ConfigNotFoundType).
const (
	resSource      = "SOURCE_CONNECTION"
	resDestination = "DESTINATION_CONNECTION"
	resConnection  = "STANDARD_SYNC"
	resWorkspace   = "STANDARD_WORKSPACE"
	resSourceDef   = "STANDARD_SOURCE_DEFINITION"
	resJob         = "JOB"
)

// apiError is an error a handler returns; the router renders it for the API the
// request came in on.
type apiError struct {
	kind    problemKind
	message string         // data.message (public) / message (config)
	data    map[string]any // public data, overrides message when set
	// configStatus overrides kind.status on the Configuration API.
	configStatus int
}

func (e *apiError) Error() string { return e.kind.title + ": " + e.message }

func problem(k problemKind, message string) *apiError { return &apiError{kind: k, message: message} }

func notFound(resourceType, id string) *apiError {
	return &apiError{kind: probNotFound, message: "Could not find configuration for " + resourceType + ": " + id + ".",
		data: map[string]any{"resourceType": resourceType, "resourceId": id}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writePublicProblem renders e as a public-API problem.
func writePublicProblem(w http.ResponseWriter, e *apiError) {
	body := map[string]any{
		"status": e.kind.status,
		"type":   e.kind.typ,
		"title":  e.kind.title,
		"detail": e.kind.detail,
	}
	switch {
	case e.data != nil:
		body["data"] = e.data
	case e.message != "":
		body["data"] = map[string]any{"message": e.message}
	}
	writeJSON(w, e.kind.status, body)
}

// writeConfigError renders e as a Configuration API KnownExceptionInfo body.
func writeConfigError(w http.ResponseWriter, e *apiError, errorID string) {
	status := e.kind.status
	if e.configStatus != 0 {
		status = e.configStatus
	}
	body := map[string]any{"message": e.message, "errorId": errorID}
	if e.message == "" {
		body["message"] = e.kind.detail
	}
	if e.kind == probNotFound {
		body["exceptionClassName"] = "io.airbyte.commons.server.errors.IdNotFoundKnownException"
		if id, ok := e.data["resourceId"]; ok {
			body["id"] = id
		}
	}
	writeJSON(w, status, body)
}
