// Command oktaguard ingests the Okta System Log, detects identity threats,
// evaluates Okta security posture and exports metrics.
//
//	oktaguard demo [--duration 60s]          simulator + pipeline, no config needed
//	oktaguard serve --config F               run the pipeline and the metrics exporter
//	oktaguard export --config F              stored events as JSON Lines on stdout
//	oktaguard replay [--config F] FILE...    alerts as JSON Lines on stdout
//	oktaguard posture --config F [--profile baseline|stig] [--format json|table]
//	oktaguard sim [--addr 127.0.0.1:8089]    serve the Okta simulator
//	oktaguard store migrate --from sqlite:PATH --to postgres:DSN   copy a store
//	oktaguard store compact --path PATH      rewrite a SQLite store, give free pages back
//	oktaguard store info --path PATH         a SQLite store's file: size, free pages, auto-vacuum
//	oktaguard alerts list|ack|resolve|dismiss ID ...   triage alerts and exceptions
//
// Errors go to stderr with a non-zero exit; stdout carries only data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

const usage = `oktaguard — Okta System Log ingestion, identity threat detection and posture

Usage:
  oktaguard demo [--duration 60s] [--db FILE]
  oktaguard serve --config FILE
  oktaguard export --config FILE
  oktaguard replay [--config FILE] FILE...   ("-" reads stdin; gzip is detected)
  oktaguard posture --config FILE [--profile baseline|stig] [--format json|table]
  oktaguard sim [--addr 127.0.0.1:8089] [--seed 1] [--users 100] [--days 10]
  oktaguard store migrate --from sqlite:PATH --to postgres:DSN [--org URL] [--password-file F]
  oktaguard store compact --path PATH        (stop oktaguard serve first; see docs/operations.md)
  oktaguard store info --path PATH
  oktaguard alerts list|show|ack|resolve|dismiss|reopen|exceptions|except|unexcept ... --config FILE
  oktaguard version

Run "oktaguard <command> -h" for the flags of a command.
`

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr)
	case "export":
		err = cmdExport(ctx, rest, stdout, stderr)
	case "replay":
		err = cmdReplay(ctx, rest, stdin, stdout, stderr)
	case "posture":
		err = cmdPosture(ctx, rest, stdout, stderr)
	case "sim":
		err = cmdSim(ctx, rest, stdout, stderr)
	case "store":
		err = cmdStore(ctx, rest, stdout, stderr)
	case "alerts":
		err = cmdAlerts(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "oktaguard: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "oktaguard %s: %v\n", cmd, err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// newFlags is a FlagSet that prints to stderr and returns errors.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("oktaguard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// newLogger logs to stderr (text, or JSON with format "json").
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: --log-format %q: use text or json", errUsage, format)
	}
}

func requireConfig(path string) error {
	if path == "" {
		return fmt.Errorf("%w: --config FILE is required", errUsage)
	}
	return nil
}
