//go:build !unix

package sessions

import "time"

// lockFile does nothing where flock is not available: writes stay atomic,
// but two processes appending to one session at once may lose a run.
func lockFile(path string, timeout time.Duration) (func(), error) { return func() {}, nil }
