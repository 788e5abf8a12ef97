package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Resource paths for the query editor (GET unless noted):
//
//	detectors               detector ids, titles, severities, MITRE ids
//	event-types?prefix=&limit=   event types seen, with counts
//	actors?q=&limit=        actor logins matching q
//	posture/refresh (POST)  evaluate posture now; returns the score
//
// and the triage resources of resources_triage.go. Every state-changing
// request (anything but GET) needs a Grafana Editor or Admin: the role
// comes from the request's plugin context, never from the body.
func (d *Datasource) newResourceHandler() backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("/detectors", d.getOnly(d.handleDetectors))
	mux.HandleFunc("/event-types", d.getOnly(d.handleEventTypes))
	mux.HandleFunc("/actors", d.getOnly(d.handleActors))
	mux.HandleFunc("/posture/refresh", editorsOnly(d.handlePostureRefresh))
	mux.HandleFunc("/alerts/{id}", d.handleAlert)
	mux.HandleFunc("/alerts/{id}/state", d.handleAlertState)
	mux.HandleFunc("/exceptions", d.handleExceptions)
	mux.HandleFunc("/exceptions/{id}", d.handleExceptionRemove)
	mux.HandleFunc("/exceptions/{id}/remove", d.handleExceptionRemove)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "unknown resource "+strconv.Quote(r.URL.Path)+
			" (detectors, event-types, actors, posture/refresh, alerts/{id}, alerts/{id}/state, exceptions, exceptions/{id})")
	})
	return httpadapter.New(mux)
}

// CallResource serves the query editor's resources.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

func (d *Datasource) getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+" (use GET)")
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// resourceLimit reads ?limit= (default 100, 1..1000).
func resourceLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, errors.New("limit must be an integer in [1, 1000]")
	}
	return n, nil
}

func (d *Datasource) handleDetectors(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, detect.Detectors())
}

// listResource validates ?limit= and the search parameter, then writes
// what list returns.
func (d *Datasource) listResource(w http.ResponseWriter, r *http.Request, param string, list func(ctx context.Context, st store.Backend, search string, limit int) (any, error)) {
	st, err := d.ready()
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	limit, err := resourceLimit(r)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	search := strings.TrimSpace(r.URL.Query().Get(param))
	if len(search) > 200 {
		writeJSONError(w, http.StatusBadRequest, param+" is longer than 200 characters")
		return
	}
	out, err := list(r.Context(), st, search, limit)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *Datasource) handleEventTypes(w http.ResponseWriter, r *http.Request) {
	d.listResource(w, r, "prefix", func(ctx context.Context, st store.Backend, prefix string, limit int) (any, error) {
		types, err := st.EventTypes(ctx, prefix, limit)
		out := make([]map[string]any, 0, len(types))
		for _, t := range types {
			out = append(out, map[string]any{"eventType": t.EventType, "events": t.Events, "lastSeen": t.LastSeen})
		}
		return out, err
	})
}

func (d *Datasource) handleActors(w http.ResponseWriter, r *http.Request) {
	d.listResource(w, r, "q", func(ctx context.Context, st store.Backend, q string, limit int) (any, error) {
		actors, err := st.Actors(ctx, q, limit)
		out := make([]map[string]any, 0, len(actors))
		for _, a := range actors {
			out = append(out, map[string]any{"actor": a.Actor, "actorId": a.ActorID, "events": a.Events, "lastSeen": a.LastSeen})
		}
		return out, err
	})
}

func (d *Datasource) handlePostureRefresh(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on posture/refresh (use POST)")
		return
	}
	if _, err := d.ready(); err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	rep, err := d.run.p.RefreshPosture(ctx)
	if errors.Is(err, pipeline.ErrFollower) || errors.Is(err, store.ErrFenced) {
		// another replica leads the org: it evaluates posture, this one
		// serves the report it stored
		writeJSONError(w, http.StatusConflict, "posture evaluation refused: "+err.Error())
		return
	}
	if err != nil {
		writeJSONError(w, http.StatusBadGateway, "posture evaluation failed: "+err.Error())
		return
	}
	counts := map[string]int{}
	for _, c := range rep.Checks {
		counts[string(c.Status)]++
	}
	writeJSON(w, http.StatusOK, map[string]any{"score": rep.Score, "profile": rep.Profile, "evaluatedAt": rep.EvaluatedAt, "statuses": counts})
}
