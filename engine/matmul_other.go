//go:build !amd64

package engine

// Other architectures run the Go twins (matmul_generic.go).
var (
	hasAVX2       = false
	hasAVX512     = false
	hasAVX512BW   = false
	avxKernels    = goKernels
	avx512Kernels = goKernels
	cpuKernels    = &goKernels
)

// prefetch does nothing here.
func prefetch([]byte) {}
