package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/pipeline"
)

func replayEvent(i int, extra string) string {
	s := fmt.Sprintf(`{"uuid":"rx-%04d","published":"2024-03-01T10:%02d:00Z","eventType":"user.session.start","actor":{"id":"00u1","alternateId":"a@example.com","type":"User"},"client":{"ipAddress":"192.0.2.1"},"outcome":{"result":"SUCCESS"}`, i, i%60)
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// replay exits non-zero when nothing parsed or the input is cut short,
// and prints its summary line in every case.
func TestReplayExitCodesAndSummary(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var lines []string
	for i := range 20 {
		lines = append(lines, replayEvent(i, ""))
	}
	jsonl := strings.Join(lines, "\n") + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(jsonl))
	zw.Close()
	full := gz.Bytes()

	cases := []struct {
		name    string
		file    string
		code    int
		summary string // in the summary line
		errPart string // in the error line ("" when exit 0)
	}{
		{"every line broken", write("broken.jsonl", []byte("{broken\nnot json\n{\"uuid\":1}\n")), 1,
			"replay: 0 events, 0 alerts, 3 parse errors", "no event could be parsed (3 parse errors; first: "},
		{"empty", write("empty.jsonl", nil), 1, "replay: 0 events, 0 alerts, 0 parse errors", "the input holds no events"},
		{"truncated gzip", write("cut.jsonl.gz", full[:len(full)*2/3]), 1, "TRUNCATED: ", "input truncated: "},
		{"truncated array", write("cut.json", []byte("["+strings.Join(lines[:5], ",")+",")), 1,
			"replay: 5 events, 0 alerts, 0 parse errors, TRUNCATED: " + filepath.Join(dir, "cut.json"), "input truncated: "},
		// JSON Lines cut mid-line: the last line has no newline and is not whole JSON
		{"truncated jsonl", write("cut.jsonl", []byte(strings.Join(lines[:5], "\n")+"\n"+lines[5][:40])), 1,
			"replay: 5 events, 0 alerts, 0 parse errors, TRUNCATED: " + filepath.Join(dir, "cut.jsonl"), "input truncated: " + filepath.Join(dir, "cut.jsonl")},
		// a whole last line without its newline is fine
		{"last line without newline", write("nonl.jsonl", []byte(strings.Join(lines[:5], "\n"))), 0, "replay: 5 events, 0 alerts, 0 parse errors", ""},
		// a bad line in the middle is a parse error, not a truncation
		{"bad middle line", write("mid.jsonl", []byte(lines[0]+"\n"+lines[1][:40]+"\n"+lines[2]+"\n")), 0, "replay: 2 events, 0 alerts, 1 parse errors", ""},
		{"degraded kept", write("degraded.jsonl", []byte(replayEvent(1, `"debugContext":{"debugData":""}`)+"\n"+replayEvent(2, `"client":"{}"`)+"\n")), 0,
			"replay: 2 events, 0 alerts, 0 parse errors, 2 degraded", ""},
		{"complete gzip", write("ok.jsonl.gz", full), 0, "replay: 20 events", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCmd(t, nil, "replay", "--quiet", c.file)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errs)
			}
			if !strings.Contains(errs, c.summary) {
				t.Fatalf("summary %q missing:\n%s", c.summary, errs)
			}
			if c.errPart != "" && !strings.Contains(errs, "oktaguard replay: "+c.errPart) {
				t.Fatalf("error %q missing:\n%s", c.errPart, errs)
			}
		})
	}
}

// The summary line names the events that arrived beyond the reorder
// window (pipeline.TestReplayCountsOutOfOrder checks the count itself).
func TestReplaySummaryNamesOutOfOrder(t *testing.T) {
	if line := replaySummaryLine(pipeline.ReplaySummary{Events: 5, OutOfOrder: 2}); !strings.Contains(line, ", 2 out of order (") {
		t.Fatalf("summary %q does not name the 2 out-of-order events", line)
	}
	if line := replaySummaryLine(pipeline.ReplaySummary{Events: 5}); strings.Contains(line, "out of order") {
		t.Fatalf("summary %q names out-of-order events when there are none", line)
	}
}
