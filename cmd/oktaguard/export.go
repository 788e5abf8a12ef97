package main

import (
	"context"
	"io"
)

// cmdExport writes every stored event's raw JSON as JSON Lines on stdout.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := requireConfig(*cfgPath); err != nil {
		return err
	}
	return exportEvents(ctx, *cfgPath, stdout)
}
