//go:build !amd64

package engine

// Other architectures run the Go twins (matmul_generic.go).
var (
	hasAVX2    = false
	avxKernels = goKernels
)
