//go:build unix

package stages

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used: on a busy
// machine a single-goroutine benchmark's CPU time per op moves far less than
// its wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
