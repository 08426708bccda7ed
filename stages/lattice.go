package stages

import "math"

// Nearest-point search in the 8-dimensional lattices of SPEC §5.
//
// All functions work on one group of 8 coordinates: y is read, dst (len 8,
// caller-allocated, may alias y) receives the lattice point. They panic if a
// slice is shorter than 8 (programmer error). Inputs must be finite and of
// moderate size (|y_i| < 2^22); Quantizer.Encode guarantees both.
//
// The quantizer clamps each coordinate to [−Lv/2, Lv/2] after the nearest-point
// search, as the reference does. A clamped point may lie outside the lattice
// (for example an E8 point with one coordinate cut from 2.5 to 2 mixes the
// integer and half-integer cosets); decoding does not care, since codes are
// stored per coordinate.

// NearestD8 writes the point of D8 (integer vectors with an even coordinate sum)
// nearest to y into dst, by the Conway–Sloane rule: round every coordinate; if
// the sum is odd, re-round the coordinate with the largest rounding error the
// other way.
func NearestD8(dst, y []float32) {
	v := *(*[8]float32)(y)
	nearestD8((*[8]float32)(dst), &v)
}

// NearestE8 writes the point of E8 = D8 ∪ (D8 + ½) nearest to y into dst: the
// nearest point of each coset (Conway–Sloane), whichever is closer, D8 on a tie.
func NearestE8(dst, y []float32) {
	v := *(*[8]float32)(y)
	nearestE8((*[8]float32)(dst), &v)
}

// NearestRelaxed writes the point of D8 ∪ (Z+½)^8 nearest to y into dst. This is
// the set the reference library searches (its half-integer coset has no parity
// constraint); its D8 step here is the correct one, not the reference's.
func NearestRelaxed(dst, y []float32) {
	v := *(*[8]float32)(y)
	nearestRelaxed((*[8]float32)(dst), &v)
}

// roundEven rounds v to the nearest integer, ties to even, for |v| < 2^22:
// v + roundMagic lies in [2^23, 2^24), where the float32 ulp is 1, so the
// addition itself rounds.
func roundEven(v float32) float32 {
	return float32(v+roundMagic) - roundMagic
}

// roundMagic is 1.5·2^23 (even, so v + roundMagic has the parity of round(v)).
const roundMagic = 0x1.8p23

// nearestD8 is NearestD8 on arrays (dst must not alias y); it returns the
// squared distance |y − dst|².
func nearestD8(dst, y *[8]float32) float32 {
	var dist float32
	sum := 0
	worst, worstErr := 0, float32(-1)
	for i, v := range y {
		r := roundEven(v)
		e := v - r
		dst[i] = r
		sum += int(r)
		dist += e * e
		if a := abs32(e); a > worstErr {
			worst, worstErr = i, a
		}
	}
	if sum&1 == 0 {
		return dist
	}
	// Moving coordinate `worst` one step towards y's other side costs
	// (1−|e|)² − e² = 1 − 2|e|, the least for the largest |e|.
	if y[worst] > dst[worst] {
		dst[worst]++
	} else {
		dst[worst]--
	}
	return dist + 1 - 2*worstErr
}

// nearestE8 is NearestE8 on arrays (dst must not alias y); it returns the
// squared distance.
func nearestE8(dst, y *[8]float32) float32 { return nearestHalved(dst, y, true) }

// nearestRelaxed is NearestRelaxed on arrays (dst must not alias y); it returns
// the squared distance.
func nearestRelaxed(dst, y *[8]float32) float32 { return nearestHalved(dst, y, false) }

// nearestHalved writes the point nearestDoubled finds (halved) into dst and
// returns the squared distance.
func nearestHalved(dst, y *[8]float32, halfParity bool) float32 {
	twice, dist := nearestDoubled(y, halfParity)
	for i, c := range twice {
		dst[i] = float32(c) / 2
	}
	return dist
}

// nearestDoubled returns twice the nearest point of D8 ∪ (D8+½) (halfParity)
// or of D8 ∪ (Z+½)^8 (not halfParity), so that every coordinate is an integer
// (the quantizer's codes before clamping), and the squared distance. It does
// both cosets in one rounding pass, about 1.7 times as fast as two. Its plain
// twin, which runs Conway–Sloane once per coset, is nearestTwoPass in
// lattice_test.go; the tests check that both agree. On amd64 with AVX2,
// Quantizer.Encode runs e8EncodeAVX (lattice_amd64.s) instead: this function
// on 8 groups at once, one group per YMM lane after an 8×8 transpose, with the
// same float32 operations in the same order, hence the same codes.
//
// With r_i = round(y_i) and e_i = y_i − r_i ∈ [−½, ½]:
//   - Integer coset: r, at squared distance Σe_i²; an odd Σr_i is fixed at
//     the largest |e_i| (moved one step towards y), costing 1 − 2|e_i|.
//   - Half-integer coset: the nearest half-integer is h_i = r_i + ½·sgn(e_i)
//     (sgn(+0) = +1, sgn(−0) = −1), at distance ½ − |e_i| per coordinate, so
//     the squared distance is Σ(½ − |e_i|)² = 2 − Σ|e_i| + Σe_i². For D8+½ the
//     parity of Σ(h_i − ½) = Σr_i − #{e_i < 0} must be even; if not, the
//     coordinate with the largest error ½ − |e_i|, that is the smallest |e_i|,
//     is re-rounded the other way, to r_i − ½·sgn(e_i), costing
//     1 − 2(½ − |e_i|) = 2|e_i|.
func nearestDoubled(y *[8]float32, halfParity bool) (twice [8]int32, dist float32) {
	var r, sgn [8]int32 // r_i and sgn(e_i) = ±1
	var sumAbs float32
	var parity, negs uint32 // bit 0: parity of Σr_i and of #{e_i < 0}
	// Keys |e_i| bits·8 + i: float bits of non-negative floats order like the
	// floats, so the integer max and min of the keys give the arg-max and
	// arg-min of |e_i|.
	maxKey, minKey := int64(0), int64(math.MaxInt64)
	for i, v := range y {
		// As roundEven. t lies in [2^23, 2^24), where consecutive integers have
		// consecutive bit patterns: r_i is the difference of the bits, and the
		// last bit of t is r_i mod 2.
		t := float32(v + roundMagic)
		r[i] = int32(math.Float32bits(t)) - int32(math.Float32bits(roundMagic))
		e := v - (t - roundMagic)
		neg := math.Float32bits(e) >> 31
		sgn[i] = 1 - 2*int32(neg)
		dist += float32(e * e) // rounded product: no FMA under any GOAMD64, as e8EncodeAVX
		sumAbs += abs32(e)
		parity ^= math.Float32bits(t)
		negs ^= neg
		key := int64(math.Float32bits(abs32(e)))<<3 | int64(i)
		maxKey = max(maxKey, key)
		minKey = min(minKey, key)
	}
	oddInt := parity&1 != 0
	oddHalf := halfParity && (parity^negs)&1 != 0
	dInt, dHalf := dist, 2-sumAbs+dist
	if oddInt {
		dInt += 1 - 2*math.Float32frombits(uint32(maxKey>>3))
	}
	if oddHalf {
		dHalf += 2 * math.Float32frombits(uint32(minKey>>3))
	}
	if dInt <= dHalf {
		for i, ri := range r {
			twice[i] = 2 * ri
		}
		if oddInt {
			w := maxKey & 7
			twice[w] += 2 * sgn[w]
		}
		return twice, dInt
	}
	for i, ri := range r {
		twice[i] = 2*ri + sgn[i]
	}
	if oddHalf {
		w := minKey & 7
		twice[w] = 2*r[w] - sgn[w]
	}
	return twice, dHalf
}

func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}
