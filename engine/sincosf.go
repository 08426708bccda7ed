package engine

import "math"

// sinCosf returns sin(y) and cos(y) as glibc's sincosf computes them on an
// x86-64 CPU with FMA (its __sincosf_fma variant, the one llama.cpp's RoPE
// angles come from): the argument in float64, reduced by a multiple of π/2
// (one fused multiply-subtract below 120, an exact 4/π fixed-point product
// above), then short polynomials in float64 with fused multiply-adds,
// rounded once to float32. It is not always the correctly rounded result
// (glibc documents 0.56 ulp), which is why Exact mode needs it rather than
// math.Sin and math.Cos.
func sinCosf(y float32) (sin, cos float32) {
	const pio4 = 0x1.921FB54442D18p-1
	x := float64(y)
	top := func(f float32) uint32 { return math.Float32bits(f) >> 20 & 0x7ff }
	switch ay := top(y); {
	case ay < top(float32(pio4)):
		if ay < top(0x1p-12) {
			return y, 1
		}
		return sinCosPoly(x, x*x, &sincosTable[0], 0)
	case ay < top(120):
		n, r := reduceFast(x)
		t := &sincosTable[0]
		if n&2 != 0 {
			t = &sincosTable[1]
		}
		r *= quadrantSign[n&3]
		return sinCosPoly(r, r*r, t, n)
	case ay < top(float32(math.Inf(1))):
		bits := math.Float32bits(y)
		n, r := reduceLarge(bits)
		q := n + int(bits>>31)
		t := &sincosTable[0]
		if q&2 != 0 {
			t = &sincosTable[1]
		}
		r *= quadrantSign[q&3]
		return sinCosPoly(r, r*r, t, n)
	}
	nan := y - y
	return nan, nan
}

// sincosCoef is one entry of glibc's __sincosf_table: π/2 and the cosine
// (c0..c4) and sine (s1..s3) polynomial coefficients. The second entry
// negates the cosine polynomial, which gives quadrants 2 and 3 their sign.
type sincosCoef struct {
	c0, c1, c2, c3, c4, s1, s2, s3 float64
}

var (
	sincosTable = [2]sincosCoef{
		{0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10, 0x1.99343027bf8c3p-16,
			-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
		{-0x1p0, 0x1.ffffffd0c621cp-2, -0x1.55553e1068f19p-5, 0x1.6c087e89a359dp-10, -0x1.99343027bf8c3p-16,
			-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
	}
	quadrantSign = [4]float64{1, -1, -1, 1}
	// invPio4 is 4/π to 192 bits, eight new bits per entry.
	invPio4 = [24]uint32{
		0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44,
		0x6e4e4415, 0x4e441529, 0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
		0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0, 0x34ddc0db, 0xddc0db62,
		0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
	}
)

// sinCosPoly evaluates the sine and cosine polynomials at the reduced
// argument x (x2 = x²) with FMAs where the FMA build contracts them; an odd
// quadrant n swaps the two.
func sinCosPoly(x, x2 float64, t *sincosCoef, n int) (sin, cos float32) {
	x4 := x2 * x2
	x3 := x2 * x
	c2 := math.FMA(x2, t.c4, t.c3)
	s1 := math.FMA(x2, t.s3, t.s2)
	c1 := math.FMA(x2, t.c1, t.c0)
	x5 := x3 * x2
	x6 := x4 * x2
	s := math.FMA(x3, t.s1, x)
	c := math.FMA(x4, t.c2, c1)
	sv, cv := float32(math.FMA(x5, s1, s)), float32(math.FMA(x6, c2, c))
	if n&1 != 0 {
		return cv, sv
	}
	return sv, cv
}

// reduceFast returns the quadrant n and x − n·π/2 for |x| < 120: n from the
// product with 2^24·2/π truncated and rounded in integer arithmetic.
func reduceFast(x float64) (int, float64) {
	const hpiInv, hpi = 0x1.45F306DC9C883p+23, 0x1.921FB54442D18p0
	r := x * hpiInv
	n := (int(int32(r)) + 0x800000) >> 24
	return n, math.FMA(-float64(n), hpi, x)
}

// reduceLarge reduces a float (by its bits, |x| ≥ 120) modulo π/2 with a
// 32×96-bit product against 4/π: the quadrant and the remainder in radians.
func reduceLarge(xi uint32) (int, float64) {
	const pi63 = 0x1.921FB54442D18p-62 // 2π·2^-64
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi&0xffffff | 0x800000) << shift
	res0 := uint64(xi * arr[0])
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = res2>>32 | res0<<32
	res0 += res1
	n := (res0 + 1<<61) >> 62
	res0 -= n << 62
	return int(n), float64(int64(res0)) * pi63
}
