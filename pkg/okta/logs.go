package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// LogsPath is the System Log endpoint.
const LogsPath = "/api/v1/logs"

// okta's default page size when a request has no limit parameter.
const oktaDefaultLimit = 100

// Cursor is where a poll starts: the stored next link (the checkpoint)
// or, when there is none (first connection, lost cursor), a since time
// that opens a new polling chain.
type Cursor struct {
	Next  string    // absolute next URL from the previous page
	Since time.Time // used when Next is empty
}

// Page is one System Log page, kept lossless.
type Page struct {
	Events    []json.RawMessage // fresh slice per page
	Requested string            // absolute URL that was fetched
	Next      string            // absolute rel="next" URL: the new checkpoint ("" if Okta sent none)
	Limit     int               // the request's limit parameter
	Full      bool              // len(Events) >= Limit: more is waiting, continue at once
	Response  *Response
	// Skipped is set when the page could not be split into events on any
	// of MaxAttempts attempts: Events is empty, Next steps past the page,
	// and the caller counts and logs the loss.
	Skipped error
}

// LogPoller reads the System Log in Okta's polling mode: no until,
// sortOrder=ASCENDING, follow next links forever.
type LogPoller struct {
	c     *Client
	limit int
}

// NewLogPoller returns a poller using c's pacing and retries.
func NewLogPoller(c *Client) *LogPoller {
	return &LogPoller{c: c, limit: c.cfg.PageLimit}
}

// Client returns the poller's client.
func (p *LogPoller) Client() *Client { return p.c }

// StartURL is the first request of a polling chain.
func (p *LogPoller) StartURL(since time.Time) string {
	q := url.Values{}
	q.Set("since", since.UTC().Format("2006-01-02T15:04:05.000Z"))
	q.Set("limit", strconv.Itoa(p.limit))
	q.Set("sortOrder", "ASCENDING")
	return p.c.orgStr + LogsPath + "?" + q.Encode()
}

// ValidateCursor checks that a stored next URL can be requested: it must
// point at this org's System Log endpoint. Errors wrap ErrCursor.
func (p *LogPoller) ValidateCursor(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("%w: stored next URL cannot be parsed: %v", ErrCursor, unwrapURLError(err))
	}
	if u.Path != LogsPath {
		return "", fmt.Errorf("%w: stored next URL has path %q, expected %s", ErrCursor, u.Path, LogsPath)
	}
	pq, err := p.c.resolve(next)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCursor, err)
	}
	return pq, nil
}

// Poll fetches one page. With cur.Next set it requests that link; a 400
// answer (expired or unknown cursor) or an unusable link yields an error
// wrapping ErrCursor, and the caller restarts from a since time. Other
// errors are returned after the client's retries.
func (p *LogPoller) Poll(ctx context.Context, cur Cursor) (Page, error) {
	return p.PollDraining(ctx, nil, cur)
}

// PollDraining is Poll that stops retrying once drain ends: the attempt in
// flight finishes (its page is returned), but no retry, backoff or
// rate-limit wait goes on afterwards. A shutdown uses it to let the page in
// flight complete (ctx outlives drain by a grace period) without waiting
// out the retries of a failing request.
func (p *LogPoller) PollDraining(ctx, drain context.Context, cur Cursor) (Page, error) {
	var (
		pq  string
		err error
	)
	if cur.Next != "" {
		pq, err = p.ValidateCursor(cur.Next)
		if err != nil {
			return Page{}, err
		}
	} else {
		if cur.Since.IsZero() {
			return Page{}, errors.New("okta: poll cursor has neither a next URL nor a since time")
		}
		pq, _ = p.c.resolve(p.StartURL(cur.Since))
	}
	limit := oktaDefaultLimit
	if u, perr := url.Parse(pq); perr == nil {
		if l, aerr := strconv.Atoi(u.Query().Get("limit")); aerr == nil && l > 0 {
			limit = l
		}
	}
	// The page is split per event here, without decoding: an event that no
	// decoder accepts (nested too deep, broken inside) is rejected alone
	// when the pipeline decodes it. The elements alias this attempt's
	// body, fresh per page.
	var events []json.RawMessage
	split := func(body []byte) (err error) {
		events, err = event.SplitArray(body)
		return err
	}
	resp, err := p.c.get(ctx, drain, pq, split, false)
	if err != nil && resp != nil {
		// Every attempt returned a page that cannot be split into events:
		// step past it on its next link rather than stall ingestion.
		if resp.Next == "" {
			return Page{}, p.c.scrub.scrub(err)
		}
		return Page{
			Requested: p.c.orgStr + pq,
			Next:      resp.Next,
			Limit:     limit,
			Full:      true,
			Response:  resp,
			Skipped:   p.c.scrub.scrub(err),
		}, nil
	}
	if err != nil {
		var ae *APIError
		if cur.Next != "" && errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound) {
			return Page{}, fmt.Errorf("%w: Okta rejected the stored next link: %w", ErrCursor, p.c.scrub.scrub(err))
		}
		return Page{}, p.c.scrub.scrub(err)
	}
	return Page{
		Events:    events,
		Requested: p.c.orgStr + pq,
		Next:      resp.Next,
		Limit:     limit,
		Full:      len(events) >= limit,
		Response:  resp,
	}, nil
}
