//go:build amd64

package vec

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm: the kernels need AVX2 and FMA (cpu.X86 reports AVX2 only when the
// OS saves the YMM registers); NEXUSQUANT_NOASM=1 forces the Go twins.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && os.Getenv("NEXUSQUANT_NOASM") == ""

// expAVX sets x[j] = exp(x[j]) for j < k (a multiple of 8).
//
//go:noescape
func expAVX(k int, x *float32)

// siluMulAVX sets gate[j] = gate[j]/(1+exp(−gate[j]))·u[j] for j < k (a
// multiple of 8).
//
//go:noescape
func siluMulAVX(k int, gate, u *float32)

// expSubSumAVX sets x[i] = exp(x[i] − m) for i < n (a multiple of 8) and
// returns their float64 sum in laneSum's order.
//
//go:noescape
func expSubSumAVX(x *float32, n int, m float32) float64
