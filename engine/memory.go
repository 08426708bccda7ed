package engine

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// AvailableMemory is the memory the system can give a new program without
// swapping (MemAvailable in /proc/meminfo), in bytes; ok is false where it
// cannot be read.
func AvailableMemory() (bytes int64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return parseMemAvailable(bufio.NewScanner(f))
}

func parseMemAvailable(sc *bufio.Scanner) (int64, bool) {
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "MemAvailable" {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return n << 10, true
	}
	return 0, false
}

// CheckFits refuses, before loading, a model whose weights are larger than
// the available memory: it would page its weights in from disk at every
// token. The error gives both figures. available ≤ 0 means unknown (no
// check).
func CheckFits(sh *Shape, available int64) error {
	if available <= 0 || sh.WeightBytes <= available {
		return nil
	}
	return fmt.Errorf("model %s has %.1f GB of weights but this machine has %.1f GB of memory available: it would read its weights from disk at every token (free memory, or set NEXUSQUANT_IGNORE_MEMORY=1 to load it anyway)",
		sh.Path, float64(sh.WeightBytes)/1e9, float64(available)/1e9)
}
