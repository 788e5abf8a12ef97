//go:build unix

package pipeline

import "syscall"

// processCPU is the CPU time (user + system) the process has used, in ns:
// garbage collection included, and not inflated by other jobs holding the
// core, as the wall clock is on a shared machine.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
