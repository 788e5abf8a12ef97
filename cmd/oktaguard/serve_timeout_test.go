package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestExporterCutsOffStalledClients: a client that sends a request body
// slowly (here: 3 bytes of 100 000, then nothing) and one that asks for
// /metrics and never reads the answer are disconnected by the exporter
// after its read and write timeouts (shortened here), while a client that
// behaves is answered as before. Without the timeouts both stalled
// connections, and a goroutine each, stay forever.
func TestExporterCutsOffStalledClients(t *testing.T) {
	if exporterReadTimeout <= 0 || exporterWriteTimeout < 10*time.Second {
		t.Fatalf("exporter timeouts read %s, write %s: a scrape needs time to be written", exporterReadTimeout, exporterWriteTimeout)
	}
	oldRead, oldWrite, oldHook := exporterReadTimeout, exporterWriteTimeout, exporterConnState
	t.Cleanup(func() { exporterReadTimeout, exporterWriteTimeout, exporterConnState = oldRead, oldWrite, oldHook })
	exporterReadTimeout, exporterWriteTimeout = 500*time.Millisecond, 500*time.Millisecond
	var mu sync.Mutex
	closed := map[string]bool{} // the server's closed connections, by the client's address
	exporterConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			mu.Lock()
			closed[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	isClosed := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		return closed[c.LocalAddr().String()]
	}

	listen := freePort(t)
	s, p := idlePipeline(t, listen)
	reg, _, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	// An answer larger than the socket buffers of both ends (~16 MB), so
	// that writing it blocks while the client does not read.
	big := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_padding", Help: "padding"}, []string{"k"})
	pad := strings.Repeat("x", 60)
	for i := 0; i < 200_000; i++ {
		big.WithLabelValues(fmt.Sprintf("%s%07d", pad, i)).Set(1)
	}
	reg.MustRegister(big)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, s, p, reg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })
	waitListening(t, listen)

	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", listen, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	slowBody := dial()
	if _, err := io.WriteString(slowBody, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	noRead := dial()
	_ = noRead.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(noRead, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 30*time.Second, "the exporter to close the stalled connections", func() bool {
		return isClosed(slowBody) && isClosed(noRead)
	})
	// Either sees the end of its connection, not a wait (the server
	// discards the unread body before it answers, so the slow client gets
	// no answer).
	for name, c := range map[string]net.Conn{"slow-body": slowBody, "no-read": noRead} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s client: the connection is still open: %v", name, err)
		}
	}

	// A client that reads is answered within the same timeouts.
	good := dial()
	if _, err := io.WriteString(good, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = good.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" || isClosed(good) {
		t.Fatalf("well-behaved client: %d %q (closed %v)", resp.StatusCode, b, isClosed(good))
	}
}

// BenchmarkExporterScrape measures one /metrics scrape through the
// exporter's server as Prometheus makes it (a new connection each time),
// what exporterWriteTimeout must leave room for. The exposition has a
// fixed set of series (detectors × severities, endpoints × status classes,
// …): no per-user or per-event series, so an org's size does not change
// it.
//
//	go test ./cmd/oktaguard -run '^$' -bench BenchmarkExporterScrape -benchtime=200x
func BenchmarkExporterScrape(b *testing.B) {
	listen := freePort(b)
	s, p := idlePipeline(b, listen)
	reg, _, err := newMetrics()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, s, p, reg, slog.New(slog.DiscardHandler)) }()
	b.Cleanup(func() { cancel(); <-done })
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	if !testwait.For(30*time.Second, func() bool {
		r, err := c.Get("http://" + listen + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	}) {
		b.Fatal("the exporter never answered")
	}
	durs := make([]time.Duration, 0, b.N)
	var size int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := c.Get("http://" + listen + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || r.StatusCode != 200 {
			b.Fatalf("scrape: %d, %v", r.StatusCode, err)
		}
		durs = append(durs, time.Since(t0))
		size = len(body)
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durs[min(len(durs)-1, len(durs)*95/100)].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(durs[len(durs)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(size), "bytes")
}
