// Package cpumeter reads the CPU time this process has used, for the
// benchmarks (tests only): garbage collection included, and not inflated
// by other jobs holding the cores, as the wall clock is on a shared
// machine.
package cpumeter
