package engine

import (
	"math"

	"nexusquant/engine/gguf"
)

// Activation rounding. Before a matrix product llama.cpp converts the
// activations to the weight type's "vec_dot_type": float16 for F16 weights,
// bfloat16 for BF16, Q8_0 blocks for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 and Q8_K blocks
// for the K-quants; only F32 weights see float32 activations. Its quantized
// products are integer dot products of the two quantized operands. We round the
// activations the same way and multiply the dequantized values in float32,
// which agrees with llama.cpp up to float32 summation order (instead of
// differing by the activation quantization error, up to ~0.1 in a logit).
// Single-row products with Q8_0 and Q4_K weights (decode) go further and
// take the integer dot products themselves, from the quantized form of the
// activations (q8Acts, q8kActs).

// actKind is a rounding applied to activations.
type actKind uint8

const (
	actNone actKind = iota
	actF16
	actBF16
	actQ8_0 // 32-blocks: d = amax/127 stored as float16, q = round(x·127/amax)
	actQ8_K // 256-blocks: d = −max/127 (max: the signed extreme), q = round(x/d)
)

// actKindOf is the rounding llama.cpp applies before a product with weights
// of type t.
func actKindOf(t gguf.Type) actKind {
	switch t {
	case gguf.F16:
		return actF16
	case gguf.BF16:
		return actBF16
	case gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q8_0:
		return actQ8_0
	case gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K:
		return actQ8_K
	}
	return actNone
}

// roundActs writes x rounded by kind into dst (same length). len(x) must be
// a multiple of the kind's block (32 or 256); rows of a product always are,
// because the weight rows have the same block structure.
func roundActs(ks *kernelSet, kind actKind, x, dst []float32) {
	dst = dst[:len(x)]
	switch kind {
	case actNone:
		copy(dst, x)
	case actF16:
		ks.roundF16(x, dst)
	case actBF16:
		for i, v := range x {
			dst[i] = gguf.BF16ToF32(gguf.F32ToBF16(v))
		}
	case actQ8_0:
		ks.roundQ80(x, dst)
	case actQ8_K:
		ks.roundQ8K(x, dst)
	}
}

// roundQ8_K follows ggml's quantize_row_q8_K_ref: the scale comes from the
// signed element of largest magnitude (the first one on ties), quants round
// half to even and are capped at 127, and d = 1/iscale is kept in float32.
func roundQ8_K(x, dst []float32) {
	mx := q8kExtreme(x)
	if mx == 0 {
		clear(dst)
		return
	}
	iscale := -127 / mx
	d := 1 / iscale
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = d * min(roundEven8(iscale*v), 127)
	}
}

// roundEven8 rounds v, of magnitude at most 2^22 (a Q8 quant before
// clamping), half to even, in float32: adding and taking off 1.5·2^23
// rounds exactly so. NaN and infinities pass through.
func roundEven8(v float32) float32 {
	return (float32(v) + 0x1.8p23) - 0x1.8p23 // the conversion keeps a caller's product from fusing into an FMA
}

// roundQ8KGo is roundQ8_K over each block of 256 values of x.
func roundQ8KGo(x, dst []float32) {
	for b := 0; b+256 <= len(x); b += 256 {
		roundQ8_K(x[b:b+256], dst[b:b+256])
	}
}

// q8kExtreme is the element of x of largest magnitude, with its sign (the
// first one on ties), from which a Q8_K block takes its scale; 0 when every
// element is 0.
func q8kExtreme(x []float32) float32 {
	// Magnitudes compare as their bit patterns (NaNs, above +Inf's, are
	// skipped); then the first element of the largest magnitude is found.
	var best uint32
	for _, v := range x {
		if a := math.Float32bits(v) &^ (1 << 31); a > best && a <= 0x7f800000 {
			best = a
		}
	}
	if best == 0 {
		return 0
	}
	for _, v := range x {
		if math.Float32bits(v)&^(1<<31) == best {
			return v
		}
	}
	return 0
}

// q8kActs is one activation row in ggml's Q8_K form, for integer dot
// products: per 256-value block a float32 scale d and int8 quants q (d·q is
// what roundQ8_K writes), with the sum of q over each 32 values.
type q8kActs struct {
	q    []int8
	d    []float32
	bsum []int32 // 8 per block
	// qp is q with each block's 32-value sub-blocks in the order 0, 2, 1,
	// 3, 4, 6, 5, 7: the order the AVX-512 Q4_K kernel (q4kQ8KRows512)
	// meets the weights' nibbles in.
	qp []int8
	// bsum16 is the sum of q over each 16 values (16 per block), for the
	// Q6_K kernel's −32 offset.
	bsum16 []int16
}

// q4kSubOrder is the sub-block order of q8kActs.qp.
var q4kSubOrder = [8]int{0, 2, 1, 3, 4, 6, 5, 7}

// quantQ8K quantizes x (a multiple of 256 values) exactly as roundQ8_K
// rounds it.
func quantQ8K(x []float32) *q8kActs {
	nb := len(x) / 256
	a := &q8kActs{q: make([]int8, nb*256), d: make([]float32, nb), bsum: make([]int32, nb*8)}
	for b := 0; b < nb; b++ {
		xb := x[b*256 : (b+1)*256]
		mx := q8kExtreme(xb)
		if mx == 0 {
			continue
		}
		iscale := -127 / mx
		a.d[b] = 1 / iscale
		qb := a.q[b*256 : (b+1)*256]
		for i, v := range xb {
			qb[i] = int8(min(roundEven8(iscale*v), 127))
		}
	}
	a.bsum16 = make([]int16, nb*16)
	for g := range a.bsum16 {
		var s int16
		for _, q := range a.q[g*16 : g*16+16] {
			s += int16(q)
		}
		a.bsum16[g] = s
	}
	for j := range a.bsum {
		a.bsum[j] = int32(a.bsum16[2*j]) + int32(a.bsum16[2*j+1])
	}
	a.qp = make([]int8, len(a.q))
	for b := 0; b < nb; b++ {
		for j, s := range q4kSubOrder {
			copy(a.qp[b*256+32*j:b*256+32*j+32], a.q[b*256+32*s:])
		}
	}
	return a
}

// q8Acts is one activation row in Q8_0 form, for integer dot products: per
// 32 values a scale d (a float16 value) and int8 quants q, d·q being what
// roundQ80 writes.
type q8Acts struct {
	q []int8
	d []float32
	// q16 is q widened to 16 bits, for the AVX-512 kernel (q80Q80Rows512).
	q16 []int16
}

// quantQ80 quantizes x (a multiple of 32 values) exactly as roundQ80Go
// rounds it.
func quantQ80(x []float32) *q8Acts {
	nb := len(x) / 32
	a := &q8Acts{q: make([]int8, nb*32), d: make([]float32, nb)}
	for b := 0; b < nb; b++ {
		xb := x[b*32 : (b+1)*32]
		var abits uint32 // the largest magnitude, compared as bits
		for _, v := range xb {
			abits = max(abits, math.Float32bits(v)&^(1<<31))
		}
		amax := math.Float32frombits(abits)
		a.d[b] = gguf.F16ToF32(gguf.F32ToF16(amax / 127))
		if amax == 0 {
			continue
		}
		id := 127 / amax
		qb := a.q[b*32 : b*32+32]
		for i, v := range xb {
			qb[i] = int8(roundEven8(v * id))
		}
	}
	a.q16 = make([]int16, len(a.q))
	for i, q := range a.q {
		a.q16[i] = int16(q)
	}
	return a
}
