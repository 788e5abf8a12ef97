//go:build !unix

package pipeline

// processCPU is not measured on this platform (BenchmarkReplay then
// reports no CPU-time metrics).
func processCPU() int64 { return 0 }
