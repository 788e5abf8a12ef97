package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/exception"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Triage resources (see docs/triage.md):
//
//	alerts/{id}                   GET  the alert, its triage state and history
//	alerts/{id}/state             POST {"status", "note", "assignee", "exception"}
//	exceptions?all=true           GET  exceptions in force (all: with expired and removed)
//	exceptions                    POST {"detector", "scope", "value", "reason", "expiresIn" | "expiresAt"}
//	exceptions/{id}               DELETE (or POST exceptions/{id}/remove) removes one
//
// Changes need an Editor or Admin; the user comes from Grafana's plugin
// context, never from the body.

// maxTriageBody bounds a triage request body.
const maxTriageBody = 64 << 10

// writer is who changes something: the Grafana user of the request.
type writer struct {
	login, role string
}

// canWrite returns the request's Grafana user when their role may change
// state (Editor, Admin); otherwise it answers 403 and returns false.
func canWrite(w http.ResponseWriter, r *http.Request) (writer, bool) {
	u := backend.UserFromContext(r.Context())
	if u == nil || (u.Login == "" && u.Email == "" && u.Name == "") {
		writeJSONError(w, http.StatusForbidden, "no Grafana user in the request: changes need a signed-in Editor or Admin")
		return writer{}, false
	}
	switch u.Role {
	case "Editor", "Admin":
	default:
		role := u.Role
		if role == "" {
			role = "no role"
		}
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf("%s is a %s: only Editors and Admins may change state", userName(u), role))
		return writer{}, false
	}
	return writer{login: userName(u), role: u.Role}, true
}

func userName(u *backend.User) string {
	for _, s := range []string{u.Login, u.Email, u.Name} {
		if s != "" {
			return s
		}
	}
	return ""
}

// editorsOnly wraps a state-changing handler: anything but GET needs an
// Editor or Admin.
func editorsOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			if _, ok := canWrite(w, r); !ok {
				return
			}
		}
		h(w, r)
	}
}

// decodeBody reads a JSON body strictly (unknown fields are errors).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTriageBody))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxTriageBody))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "request body is not valid JSON for this resource: "+err.Error())
		return false
	}
	return true
}

// storeError answers a store error: 404 not found, 400 bad input, else 500.
func storeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "store: ")
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, msg)
	case errors.Is(err, store.ErrInvalidInput), errors.Is(err, store.ErrInvalidQuery):
		writeJSONError(w, http.StatusBadRequest, msg)
	default:
		writeJSONError(w, http.StatusInternalServerError, msg)
	}
}

// triageStore returns the data source's store for triage, or answers 503
// (not running) or 501 (the backend has no triage) and returns false.
func (d *Datasource) triageStore(w http.ResponseWriter) (store.Triager, bool) {
	b, err := d.ready()
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return nil, false
	}
	st, err := store.AsTriager(b)
	if err != nil {
		writeJSONError(w, http.StatusNotImplemented, err.Error())
		return nil, false
	}
	return st, true
}

func knownDetector(id string) bool {
	for _, d := range detect.Detectors() {
		if d.ID == id {
			return true
		}
	}
	return false
}

// stateInput is the body of POST alerts/{id}/state.
type stateInput struct {
	Status    string           `json:"status"`
	Note      string           `json:"note"`
	Assignee  string           `json:"assignee"`
	Exception *exception.Input `json:"exception"`
}

func (d *Datasource) handleAlert(w http.ResponseWriter, r *http.Request) {
	st, ok := d.triageStore(w)
	if !ok {
		return
	}
	if r.Method != http.MethodGet {
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on alerts/{id} (use GET, or POST alerts/{id}/state)")
		return
	}
	id := r.PathValue("id")
	ta, err := st.AlertTriage(r.Context(), id)
	if err != nil {
		storeError(w, err)
		return
	}
	hist, err := st.AlertHistory(r.Context(), store.HistoryQuery{AlertID: id, Limit: 1000})
	if err != nil {
		storeError(w, err)
		return
	}
	if hist == nil {
		hist = []alert.Change{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": ta.Alert, "triage": ta.Triage, "history": hist})
}

func (d *Datasource) handleAlertState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on alerts/{id}/state (use POST)")
		return
	}
	who, ok := canWrite(w, r)
	if !ok {
		return
	}
	st, ok := d.triageStore(w)
	if !ok {
		return
	}
	var in stateInput
	if !decodeBody(w, r, &in) {
		return
	}
	in.Status = strings.ToLower(strings.TrimSpace(in.Status))
	if !alert.ValidStatus(in.Status) {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("status %q is unknown (%s)", in.Status, strings.Join(alert.Statuses, ", ")))
		return
	}
	id := r.PathValue("id")
	ta, err := st.AlertTriage(r.Context(), id)
	if err != nil {
		storeError(w, err)
		return
	}
	now := time.Now().UTC()
	change := store.StatusChange{AlertID: id, To: in.Status, Note: in.Note, Assignee: strings.TrimSpace(in.Assignee), User: who.login, Role: who.role, Time: now}
	if in.Exception != nil {
		if in.Status != alert.StatusDismissed {
			writeJSONError(w, http.StatusBadRequest, "an exception can only come with status dismissed")
			return
		}
		x, err := in.Exception.Build(who.login, now, &ta.Alert, knownDetector)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		change.Exception = &x
	}
	ch, err := st.SetAlertStatus(r.Context(), change)
	if err != nil {
		storeError(w, err)
		return
	}
	d.logger.Info("alert triaged", "alert", id, "from", ch.From, "to", ch.To, "user", who.login, "exception", ch.ExceptionID)
	out := map[string]any{"change": ch}
	if ch.ExceptionID != 0 {
		if x, err := st.Exception(r.Context(), ch.ExceptionID); err == nil {
			out["exception"] = x
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *Datasource) handleExceptions(w http.ResponseWriter, r *http.Request) {
	st, ok := d.triageStore(w)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet:
		q := store.ExceptionQuery{ActiveAt: time.Now(), Limit: 1000}
		switch r.URL.Query().Get("all") {
		case "", "false":
		case "true":
			q.ActiveAt = time.Time{}
		default:
			writeJSONError(w, http.StatusBadRequest, "all must be true or false")
			return
		}
		xs, err := st.Exceptions(r.Context(), q)
		if err != nil {
			storeError(w, err)
			return
		}
		now := time.Now()
		out := make([]map[string]any, 0, len(xs))
		for _, x := range xs {
			out = append(out, map[string]any{"exception": x, "state": x.State(now)})
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		who, ok := canWrite(w, r)
		if !ok {
			return
		}
		var in exception.Input
		if !decodeBody(w, r, &in) {
			return
		}
		x, err := in.Build(who.login, time.Now().UTC(), nil, knownDetector)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		x, err = st.AddException(r.Context(), x)
		if err != nil {
			storeError(w, err)
			return
		}
		d.logger.Info("exception added", "id", x.ID, "detector", x.Detector, "scope", x.Scope, "user", who.login)
		writeJSON(w, http.StatusCreated, x)
	default:
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on exceptions (use GET or POST)")
	}
}

func (d *Datasource) handleExceptionRemove(w http.ResponseWriter, r *http.Request) {
	remove := r.Method == http.MethodDelete || r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/remove")
	if !remove {
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here (DELETE exceptions/{id} or POST exceptions/{id}/remove)")
		return
	}
	who, ok := canWrite(w, r)
	if !ok {
		return
	}
	st, ok := d.triageStore(w)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("exception id %q is not a positive integer", r.PathValue("id")))
		return
	}
	x, err := st.RemoveException(r.Context(), id, who.login, time.Now().UTC())
	if err != nil {
		storeError(w, err)
		return
	}
	d.logger.Info("exception removed", "id", id, "user", who.login)
	writeJSON(w, http.StatusOK, x)
}
