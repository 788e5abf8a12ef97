package oktasim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
)

// OktaError is the JSON error body Okta's management and System Log APIs
// return: {errorCode, errorSummary, errorLink, errorId, errorCauses}.
type OktaError struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []ErrorCause `json:"errorCauses"`
}

// ErrorCause is one entry of OktaError.ErrorCauses.
type ErrorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

// OAuthError is the RFC 6749 error body of the /oauth2/v1/token endpoint.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// Error codes served by the simulator (Okta's own codes).
const (
	CodeValidation     = "E0000001" // API validation failed (400)
	CodeInvalidSession = "E0000005" // invalid session (403)
	CodeAccessDenied   = "E0000006" // insufficient permissions / scope (403)
	CodeNotFound       = "E0000007" // resource not found (404)
	CodeInternal       = "E0000009" // internal server error / query took too long (500)
	CodeInvalidToken   = "E0000011" // invalid token provided (401)
	CodeMethod         = "E0000022" // endpoint does not support the HTTP method (405)
	CodeSearchCriteria = "E0000031" // invalid search criteria, e.g. co on debugData.url (400)
	CodeRateLimit      = "E0000047" // API call exceeded rate limit (429)
	CodeInvalidFilter  = "E0000053" // invalid filter / since too far back (400)
	CodeUnavailable    = "E0000010" // service unavailable (503)
)

func newErrorID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "oae" + base64.RawURLEncoding.EncodeToString(b[:])
}

func newRequestID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func oktaErr(code, summary string, causes ...string) OktaError {
	e := OktaError{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorID: newErrorID(), ErrorCauses: []ErrorCause{}}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, ErrorCause{ErrorSummary: c})
	}
	return e
}

// reply is a fully buffered response; the fault layer may alter it before it
// is written.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func newReply() *reply { return &reply{status: http.StatusOK, header: http.Header{}} }

func (r *reply) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value marshalled here is a simulator-built struct or slice;
		// a failure is a programming error, reported as a 500 body.
		b = []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"oaeMarshal","errorCauses":[]}`)
		status = http.StatusInternalServerError
	}
	r.raw(status, "application/json", b)
}

func (r *reply) raw(status int, contentType string, body []byte) {
	r.status = status
	r.header.Set("Content-Type", contentType)
	r.body = body
}

func (r *reply) oktaError(status int, e OktaError) { r.json(status, e) }

// Header implements http.ResponseWriter so that an http.Handler (Options.Mgmt)
// can write into a reply.
func (r *reply) Header() http.Header { return r.header }

// Write implements http.ResponseWriter.
func (r *reply) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return len(b), nil
}

// WriteHeader implements http.ResponseWriter.
func (r *reply) WriteHeader(status int) { r.status = status }

func (r *reply) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}
