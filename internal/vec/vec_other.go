//go:build !amd64

package vec

// useAsm is false off amd64: the Go twins run. The stubs are never called.
const useAsm = false

func expAVX(k int, x *float32)                          { panic("vec: no assembly") }
func siluMulAVX(k int, gate, u *float32)                { panic("vec: no assembly") }
func expSubSumAVX(x *float32, n int, m float32) float64 { panic("vec: no assembly") }
