//go:build !unix

package event

// processCPU is not measured on this platform (BenchmarkDecoders then
// reports no cpu-ns/op).
func processCPU() int64 { return 0 }
