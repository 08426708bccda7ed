// Package vec holds the element-wise float32 kernels that engine and stages
// both need, each once: a vectorised exp (Cephes expf) in AVX2 + FMA
// assembly with its plain Go twin, and the kernels built on it (SiLU times a
// vector for the feed-forward, exp(x − m) with its float64 sum for softmax).
//
// Exp, SiluMul and ExpSubSum run the assembly on amd64 CPUs with AVX2 and
// FMA unless NEXUSQUANT_NOASM is set, and the twins elsewhere; ExpGo,
// SiluMulGo and ExpSubSumGo always run the twins. A twin is the
// specification: the assembly computes the same formula with fused
// multiply-adds, so a value may differ from the twin's by 1 ulp; ExpSubSum
// sums in the twin's order, so its sum is bit for bit the twin's sum of the
// values it wrote. Slices are modified in place; nothing allocates.
package vec

import "math"

// Exp32 is exp(v) as Cephes expf computes it: n = floor(v·log2e + ½),
// r = v − n·ln2 (ln 2 split in two parts), e^r by a degree-5 polynomial,
// scaled by 2^n. The relative error is below 2e-7. Arguments below −87 (and
// NaN) give 0, so attention's masked scores (−Inf) weigh nothing; arguments
// above 88.376 give the value at 88.376.
func Exp32(v float32) float32 {
	if !(v >= -87) {
		return 0
	}
	v = min(v, 88.3762626647949)
	fx := float32(math.Floor(float64(v*1.44269504088896341 + 0.5)))
	v -= fx * 0.693359375
	v -= fx * -2.12194440e-4
	z := v * v
	y := float32(1.9875691500e-4)
	y = y*v + 1.3981999507e-3
	y = y*v + 8.3334519073e-3
	y = y*v + 4.1665795894e-2
	y = y*v + 1.6666665459e-1
	y = y*v + 5.0000001201e-1
	y = y*z + v + 1
	return y * math.Float32frombits(uint32(int32(fx)+127)<<23)
}

// ExpGo sets x[i] = Exp32(x[i]).
func ExpGo(x []float32) {
	for i, v := range x {
		x[i] = Exp32(v)
	}
}

// SiluMulGo sets g[i] = g[i]/(1+Exp32(−g[i]))·u[i] (SiLU of the gate times
// the up projection). u must be at least as long as g.
func SiluMulGo(g, u []float32) {
	u = u[:len(g)]
	for i, x := range g {
		g[i] = x / (1 + Exp32(-x)) * u[i]
	}
}

// ExpSubSumGo sets x[i] = Exp32(x[i] − m) and returns the sum of the new
// values in float64, added in eight lanes (lane j takes x[j], x[j+8], …),
// then lane j plus lane j+4, then (0 + 2) + (1 + 3). len(x) must be a
// multiple of 8.
func ExpSubSumGo(x []float32, m float32) float64 {
	checkEights(len(x))
	for i, v := range x {
		x[i] = Exp32(v - m)
	}
	return laneSum(x)
}

// laneSum adds x (a multiple of 8 long) in ExpSubSumGo's order.
func laneSum(x []float32) float64 {
	var acc [8]float64
	for i := 0; i < len(x); i += 8 {
		for j, e := range x[i : i+8] {
			acc[j] += float64(e)
		}
	}
	s0, s1, s2, s3 := acc[0]+acc[4], acc[1]+acc[5], acc[2]+acc[6], acc[3]+acc[7]
	return (s0 + s2) + (s1 + s3)
}

func checkEights(n int) {
	if n%8 != 0 {
		panic("vec: ExpSubSum needs a multiple of 8 values")
	}
}

// Exp sets x[i] = exp(x[i]): the assembly on blocks of 8 where it runs, ExpGo
// on the rest.
func Exp(x []float32) {
	k8 := 0
	if useAsm {
		if k8 = len(x) &^ 7; k8 > 0 {
			expAVX(k8, &x[0])
		}
	}
	ExpGo(x[k8:])
}

// SiluMul is SiluMulGo with the assembly on blocks of 8 where it runs.
func SiluMul(g, u []float32) {
	u = u[:len(g)]
	k8 := 0
	if useAsm {
		if k8 = len(g) &^ 7; k8 > 0 {
			siluMulAVX(k8, &g[0], &u[0])
		}
	}
	SiluMulGo(g[k8:], u[k8:])
}

// ExpSubSum is ExpSubSumGo with the assembly where it runs. len(x) must be a
// multiple of 8.
func ExpSubSum(x []float32, m float32) float64 {
	checkEights(len(x))
	if !useAsm || len(x) == 0 {
		return ExpSubSumGo(x, m)
	}
	return expSubSumAVX(&x[0], len(x), m)
}
