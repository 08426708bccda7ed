//go:build unix

package sessions

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive advisory lock (flock) on path, creating it,
// and returns the function that releases it. It waits up to timeout for
// another holder. The lock file is never truncated; Remove unlinks it while
// holding the lock, so a lock taken on a file that has since been unlinked is
// dropped and taken again on the file the path now names.
func lockFile(path string, timeout time.Duration) (func(), error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("session lock: %w", err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil || !(errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR)) {
				break
			}
			if time.Now().After(deadline) {
				f.Close()
				return nil, fmt.Errorf("session lock %s is held by another process for more than %v", path, timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("session lock %s: %w", path, err)
		}
		held, herr := f.Stat()
		now, nerr := os.Stat(path)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return func() {
				unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}, nil
		}
		f.Close() // unlinked (or replaced) under us: lock the current file
	}
}
