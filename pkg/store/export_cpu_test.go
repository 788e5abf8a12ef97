package store

// ProcessCPU is this process's CPU time so far (getrusage; 0 where it is
// not measured), for the benchmarks of package store_test.
var ProcessCPU = processCPU
