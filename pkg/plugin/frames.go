package plugin

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Field helpers shared by the query handlers (query_<type>.go).

// activityLink is a data link to the activity of the same actor (or
// session), opened with the same data source.
func (d *Datasource) activityLink(title, field string) data.DataLink {
	return data.DataLink{
		Title: title,
		Internal: &data.InternalDataLink{
			DatasourceUID:  d.settings.UID,
			DatasourceName: d.settings.Name,
			Query:          map[string]any{"queryType": QueryActivity, field: "${__value.raw}"},
		},
	}
}

func (d *Datasource) withLinks(f *data.Field, links ...data.DataLink) {
	cfg := f.Config
	if cfg == nil {
		cfg = &data.FieldConfig{}
	}
	cfg.Links = append(cfg.Links, links...)
	f.Config = cfg
}

func named(f *data.Field, display string) *data.Field {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.DisplayNameFromDS = display
	return f
}

func ptr(v float64) *data.ConfFloat64 { c := data.ConfFloat64(v); return &c }
