package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// queryHandler answers one parsed query of one type against the store;
// dq carries Grafana's time range, interval and max data points.
type queryHandler func(d *Datasource, ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error)

// queryType registers one query type: its handler (in query_<type>.go)
// and whether alert rules may use it (numeric frames only).
type queryType struct {
	name    string
	handle  queryHandler
	numeric bool
}

// queryTypes is the registry of query types: one line per type. Adding a
// type is its file plus one line here (and its editor in src/).
var queryTypes = []queryType{
	{QueryActivity, (*Datasource).activity, false},
	{QueryAlerts, (*Datasource).alerts, false},
	{QueryTimeseries, (*Datasource).timeseries, true},
	{QueryGeo, (*Datasource).geo, false},
	{QueryPosture, (*Datasource).posture, false},
	{QueryPostureHistory, (*Datasource).postureHistory, true},
	{QueryUsers, (*Datasource).users, false},
	{QueryLogsVolume, (*Datasource).logsVolume, false},
	{QueryExceptions, (*Datasource).exceptions, false},
	{QueryAlertHistory, (*Datasource).alertHistory, false},
	{QueryUser, (*Datasource).user, false},
}

// QueryTypes lists every supported query type, in registry order.
var QueryTypes = func() []string {
	out := make([]string, len(queryTypes))
	for i, t := range queryTypes {
		out[i] = t.name
	}
	return out
}()

func lookupQueryType(name string) (queryType, bool) {
	for _, t := range queryTypes {
		if t.name == name {
			return t, true
		}
	}
	return queryType{}, false
}

// QueryData answers every query of the request; one query's error never
// fails the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	fromAlert := req.GetHTTPHeader(backend.FromAlertHeaderName) != "" || req.Headers[backend.FromAlertHeaderName] != ""
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q, fromAlert)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, fromAlert bool) (res backend.DataResponse) {
	defer func() {
		if r := recover(); r != nil {
			d.logger.Error("query panicked", "refId", dq.RefID, "panic", fmt.Sprint(r))
			res = backend.ErrDataResponse(backend.StatusInternal, "internal error while answering the query")
		}
	}()
	q, err := parseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	st, err := d.ready()
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	qt, _ := lookupQueryType(q.QueryType) // parseQuery accepted it
	if fromAlert && !qt.numeric {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			fmt.Sprintf("query type %s %s", q.QueryType, errNotNumeric))
	}
	q.fromAlert = fromAlert
	frames, err := qt.handle(d, ctx, st, q, dq)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, err.Error())
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}
