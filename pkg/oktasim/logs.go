package oktasim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// isPolling reports whether a logs request is a polling request: no `until`
// and ascending order.
func isPolling(r *http.Request) bool {
	q := r.URL.Query()
	so := strings.ToUpper(q.Get("sortOrder"))
	return !q.Has("until") && (so == "" || so == "ASCENDING")
}

// cursor is the opaque `after` value: "<millis>_<seq>". In polling mode
// millis is a persistence time, in bounded mode a published time.
type cursor struct {
	ms  int64
	seq int64
}

func (c cursor) String() string {
	return strconv.FormatInt(c.ms, 10) + "_" + strconv.FormatInt(c.seq, 10)
}

func parseCursor(s string) (cursor, error) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return cursor{}, errors.New("malformed")
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || ms < 0 || seq < 0 {
		return cursor{}, errors.New("malformed")
	}
	return cursor{ms: ms, seq: seq}, nil
}

// cursorError is the response to an unknown, malformed or expired `after`.
// Okta does not document this case; the simulator answers 400 E0000001
// naming the parameter, like its other parameter validation errors.
func cursorError(rep *reply, why string) {
	rep.oktaError(http.StatusBadRequest, oktaErr(CodeValidation, "Api validation failed: after",
		"after: The cursor is invalid or has expired ("+why+"). Restart the query with since."))
}

func validation(rep *reply, param string, causes ...string) {
	rep.oktaError(http.StatusBadRequest, oktaErr(CodeValidation, "Api validation failed: "+param, causes...))
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseOktaTime(s string, now time.Time) (time.Time, bool) {
	if strings.EqualFold(s, "now") {
		return now, true
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type logsQuery struct {
	polling  bool
	desc     bool
	limit    int
	since    time.Time
	until    time.Time
	after    *cursor
	afterRaw string
	filter   filterNode
	q        []string
}

func (s *Server) parseLogsQuery(rep *reply, r *http.Request, now time.Time) (*logsQuery, bool) {
	v := r.URL.Query()
	lq := &logsQuery{limit: 100}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n < 0 || n > 1000 {
			validation(rep, "limit", "limit: The limit must be an integer between 0 and 1000.")
			return nil, false
		}
		lq.limit = n
	}
	switch so := strings.ToUpper(v.Get("sortOrder")); so {
	case "", "ASCENDING":
	case "DESCENDING":
		lq.desc = true
	default:
		validation(rep, "sortOrder", "sortOrder: must be ASCENDING or DESCENDING.")
		return nil, false
	}
	dateCause := func(p string) []string {
		return []string{p + ": The date format in your query is not recognized. Please enter dates using ISO8601 string format.",
			p + ": must be a valid date-time, empty, or 'now'."}
	}
	lq.polling = !v.Has("until") && !lq.desc
	lq.until = now
	if v.Has("until") && v.Get("until") != "" {
		t, ok := parseOktaTime(v.Get("until"), now)
		if !ok {
			validation(rep, "'until'", dateCause("until")...)
			return nil, false
		}
		lq.until = t
	}
	lq.since = lq.until.Add(-7 * 24 * time.Hour)
	if v.Get("since") != "" {
		t, ok := parseOktaTime(v.Get("since"), now)
		if !ok {
			validation(rep, "'since'", dateCause("since")...)
			return nil, false
		}
		lq.since = t
	}
	// The SDK re-adds the first request's since to every next link, so the
	// age check applies only when `after` is absent (after wins).
	if v.Get("after") == "" && v.Get("since") != "" && now.Sub(lq.since) > s.opts.MaxSinceAge {
		rep.oktaError(http.StatusBadRequest, oktaErr(CodeInvalidFilter, "Invalid search criteria: since parameter is over 180 days prior to the current day.",
			fmt.Sprintf("since: must be within %d days of the current time.", int(s.opts.MaxSinceAge/(24*time.Hour)))))
		return nil, false
	}
	if !lq.polling && lq.since.After(lq.until) {
		validation(rep, "since", "since: must be before until.")
		return nil, false
	}
	if f := v.Get("filter"); v.Has("filter") {
		n, err := parseFilter(f)
		if err != nil {
			var fe *filterError
			code := CodeInvalidFilter
			if errors.As(err, &fe) {
				code = fe.code
			}
			rep.oktaError(http.StatusBadRequest, oktaErr(code, err.Error(), "filter: "+err.Error()))
			return nil, false
		}
		lq.filter = n
	}
	if v.Has("q") {
		kw, err := parseQ(v.Get("q"))
		if err != nil {
			validation(rep, "q", err.Error())
			return nil, false
		}
		lq.q = kw
	}
	if a := v.Get("after"); a != "" {
		c, err := parseCursor(a)
		if err != nil {
			cursorError(rep, "malformed cursor")
			return nil, false
		}
		lq.after, lq.afterRaw = &c, a
	}
	return lq, true
}

// handleLogs serves GET /api/v1/logs. empty forces an empty page with the
// request's own cursor (FaultEmptyPage).
func (s *Server) handleLogs(rep *reply, r *http.Request, empty bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rep.header.Set("Allow", "GET")
		rep.oktaError(http.StatusMethodNotAllowed, oktaErr(CodeMethod, "The endpoint does not support the provided HTTP method"))
		return
	}
	now := s.now()
	lq, ok := s.parseLogsQuery(rep, r, now)
	if !ok {
		return
	}
	retentionCut := now.Add(-s.opts.Retention).UnixMilli()
	if lq.after != nil && lq.after.ms < retentionCut {
		cursorError(rep, "the cursor is older than the retention period")
		return
	}
	var (
		page []*record
		next *cursor
		err  string
	)
	l := &s.events
	l.mu.Lock()
	if lq.polling {
		page, next, err = s.pollPage(lq, retentionCut, empty)
	} else {
		page, next, err = s.boundedPage(lq, retentionCut)
	}
	body := make([]byte, 0, 2+len(page)*1024)
	body = append(body, '[')
	for i, rec := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, rec.raw...)
	}
	body = append(body, ']')
	l.mu.Unlock()
	if err != "" {
		cursorError(rep, err)
		return
	}
	s.stats.add(func(st *Stats) { st.EventsServed += int64(len(page)) })

	base := s.baseURL(r)
	self := base + r.URL.Path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	rep.header.Add("Link", "<"+self+`>; rel="self"`)
	if next != nil {
		q := r.URL.Query()
		q.Set("after", next.String())
		rep.header.Add("Link", "<"+base+r.URL.Path+"?"+encodeQuery(q)+`>; rel="next"`)
	}
	rep.raw(http.StatusOK, "application/json", body)
}

// encodeQuery encodes like url.Values.Encode but keeps `after` last, as a
// readable next link.
func encodeQuery(q url.Values) string {
	after := q.Get("after")
	q.Del("after")
	e := q.Encode()
	if e != "" {
		e += "&"
	}
	return e + "after=" + url.QueryEscape(after)
}

func (lq *logsQuery) match(rec *record, retentionCut int64) bool {
	if rec.pubMs < retentionCut {
		return false
	}
	if lq.filter == nil && len(lq.q) == 0 {
		return true
	}
	d := rec.parsed()
	if lq.filter != nil && !lq.filter.eval(d) {
		return false
	}
	return matchQ(d, lq.q)
}

// pollPage serves a polling request (persistence order, infinite next);
// l.mu held. An empty page's next is the request's own position.
func (s *Server) pollPage(lq *logsQuery, retentionCut int64, empty bool) ([]*record, *cursor, string) {
	l := &s.events
	recs := l.recs
	var start cursor
	if lq.after != nil {
		c := *lq.after
		if c.seq > l.base+int64(len(recs)) {
			return nil, nil, "unknown cursor"
		}
		if c.seq < l.base {
			return nil, nil, "the events after this cursor are no longer retained"
		}
		if rec := l.bySeq(c.seq); rec != nil && rec.persisted > c.ms {
			return nil, nil, "unknown cursor"
		}
		start = c
	} else {
		sinceMs := lq.since.UnixMilli()
		i := sort.Search(len(recs), func(i int) bool { return recs[i].persisted >= sinceMs })
		start = cursor{ms: sinceMs, seq: l.base + int64(i)}
	}
	if empty || lq.limit == 0 {
		return nil, &start, ""
	}
	var page []*record
	last := start
	for i := start.seq - l.base; i < int64(len(recs)); i++ {
		rec := recs[i]
		if rec.persisted < start.ms {
			continue
		}
		last = cursor{ms: rec.persisted, seq: rec.seq}
		if lq.match(rec, retentionCut) {
			page = append(page, rec)
			if len(page) == lq.limit {
				break
			}
		}
	}
	if len(page) == 0 {
		return nil, &start, ""
	}
	return page, &last, ""
}

// boundedPage serves a bounded request (published order within
// [since, until), finite); l.mu held.
func (s *Server) boundedPage(lq *logsQuery, retentionCut int64) ([]*record, *cursor, string) {
	sorted := s.events.sortedByPub()
	lo := max(lq.since.UnixMilli(), retentionCut)
	hi := lq.until.UnixMilli() // exclusive
	from := sort.Search(len(sorted), func(i int) bool { return sorted[i].pubMs >= lo })
	to := sort.Search(len(sorted), func(i int) bool { return sorted[i].pubMs >= hi })
	if from > to {
		from = to
	}
	if lq.after != nil {
		c := *lq.after
		if c.seq >= 1 && c.seq <= s.events.base {
			return nil, nil, "the event this cursor points to is no longer retained"
		}
		if rec := s.events.bySeq(c.seq); rec == nil || rec.pubMs != c.ms {
			return nil, nil, "unknown cursor"
		}
		key := &record{pubMs: c.ms, seq: c.seq}
		pos := sort.Search(len(sorted), func(i int) bool { return cmpPub(sorted[i], key) >= 0 })
		if lq.desc {
			to = min(to, pos) // strictly before the cursor
		} else {
			from = max(from, pos+1) // strictly after the cursor
		}
		if from > to {
			from = to
		}
	}
	var page []*record
	more := false
	step := func(rec *record) bool { // returns false to stop
		if !lq.match(rec, retentionCut) {
			return true
		}
		if len(page) == lq.limit {
			more = true
			return false
		}
		page = append(page, rec)
		return true
	}
	if lq.desc {
		for i := to - 1; i >= from; i-- {
			if !step(sorted[i]) {
				break
			}
		}
	} else {
		for i := from; i < to; i++ {
			if !step(sorted[i]) {
				break
			}
		}
	}
	if !more || len(page) == 0 {
		return page, nil, ""
	}
	lastRec := page[len(page)-1]
	return page, &cursor{ms: lastRec.pubMs, seq: lastRec.seq}, ""
}
