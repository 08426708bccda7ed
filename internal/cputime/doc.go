// Package cputime reads the process's CPU time, which benchmarks report
// beside wall time: on a busy machine a benchmark's CPU time per operation
// moves far less than its wall time.
package cputime
