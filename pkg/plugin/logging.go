package plugin

import (
	"context"
	"log/slog"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// sdkLogHandler forwards slog records to the SDK logger, which writes
// the structured format Grafana reads from the plugin's stderr.
type sdkLogHandler struct {
	l     log.Logger
	attrs []any
}

func newSDKLogHandler(l log.Logger) slog.Handler { return &sdkLogHandler{l: l} }

func (h *sdkLogHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	switch h.l.Level() {
	case log.Error:
		return lvl >= slog.LevelError
	case log.Warn:
		return lvl >= slog.LevelWarn
	case log.Info:
		return lvl >= slog.LevelInfo
	default:
		return true
	}
}

func (h *sdkLogHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, a.Key, a.Value.Resolve().Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.l.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.l.Warn(r.Message, args...)
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, args...)
	default:
		h.l.Debug(r.Message, args...)
	}
	return nil
}

func (h *sdkLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &sdkLogHandler{l: h.l, attrs: append([]any(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, a.Key, a.Value.Resolve().Any())
	}
	return n
}

// WithGroup flattens groups (the SDK logger has no groups).
func (h *sdkLogHandler) WithGroup(string) slog.Handler { return h }
