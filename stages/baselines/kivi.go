package baselines

import (
	"encoding/binary"
	"fmt"
	"math"

	"nexusquant/stages"
)

// kiviGroup is the KIVI group size: 32 tokens per key channel group, 32
// channels per value token group.
const kiviGroup = 32

// kiviCodec is KIVI-style asymmetric quantization (see the package doc).
//
// Layout of n rows of d values:
//   - keys: for each group of g ≤ 32 consecutive rows: d pairs (min, step) as
//     float16, then the g·d codes row-major, packed at bits each (LSB first);
//   - values: for each row: ⌈d/32⌉ pairs (min, step) as float16, then the d
//     codes packed.
//
// x̂ = min + code·step, code ∈ [0, 2^bits − 1], step = (max − min)/(2^bits − 1).
type kiviCodec struct{ bits int }

func (c kiviCodec) Name() string { return fmt.Sprintf("kivi%d", c.bits) }
func (c kiviCodec) Evicts() bool { return false }

func packedLen(values, bits int) int { return (values*bits + 7) / 8 }

// EncodedLen is the larger of the key and value layouts: the RowCodec seam
// gives keys and values one size, so the smaller layout is zero-padded. The two
// are equal when d and n are multiples of 32 (head_dim 64/128, full blocks);
// for head_dim 8 the key layout carries padding, which the byte counts include.
func (c kiviCodec) EncodedLen(n, d int) int {
	return max(c.keyLen(n, d), c.valueLen(n, d))
}

func (c kiviCodec) keyLen(n, d int) int {
	total := 0
	for r := 0; r < n; r += kiviGroup {
		g := min(kiviGroup, n-r)
		total += 4*d + packedLen(g*d, c.bits)
	}
	return total
}

func (c kiviCodec) valueLen(n, d int) int {
	groups := (d + kiviGroup - 1) / kiviGroup
	return n * (4*groups + packedLen(d, c.bits))
}

// quantGroup quantizes the values got(i), i < count, appending (min, step) to
// hdr and the codes to codes.
func (c kiviCodec) quantGroup(count int, get func(i int) float32, codes []uint8) (lo, step float32) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i := 0; i < count; i++ {
		v := get(i)
		lo, hi = min(lo, v), max(hi, v)
	}
	levels := float32(int(1)<<c.bits - 1)
	lo = stages.F16ToF32(stages.F32ToF16(lo))
	step = stages.F16ToF32(stages.F32ToF16((hi - lo) / levels))
	for i := 0; i < count; i++ {
		q := float32(0)
		if step > 0 {
			q = float32(math.Round(float64((get(i) - lo) / step)))
		}
		codes[i] = uint8(max(0, min(levels, q)))
	}
	return lo, step
}

func appendPacked(dst []byte, codes []uint8, bits int) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, packedLen(len(codes), bits))...)
	for i, q := range codes {
		bit := i * bits
		dst[off+bit/8] |= q << (bit % 8)
	}
	return dst
}

func unpack(src []byte, i, bits int) uint8 {
	bit := i * bits
	return (src[bit/8] >> (bit % 8)) & uint8(1<<bits-1)
}

func appendHalf(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint16(dst, stages.F32ToF16(f))
}

func half(b []byte) float32 { return stages.F16ToF32(binary.LittleEndian.Uint16(b)) }

func (c kiviCodec) Encode(dst []byte, rows []float32, d int, isKey bool) []byte {
	n := len(rows) / d
	start := len(dst)
	dst = c.encode(dst, rows, d, isKey)
	for len(dst)-start < c.EncodedLen(n, d) {
		dst = append(dst, 0)
	}
	return dst
}

func (c kiviCodec) encode(dst []byte, rows []float32, d int, isKey bool) []byte {
	n := len(rows) / d
	if isKey {
		codes := make([]uint8, kiviGroup*d)
		colBuf := make([]uint8, kiviGroup) // one channel's codes of a group
		for r0 := 0; r0 < n; r0 += kiviGroup {
			g := min(kiviGroup, n-r0)
			for ch := 0; ch < d; ch++ {
				col := colBuf[:g]
				lo, step := c.quantGroup(g, func(i int) float32 { return rows[(r0+i)*d+ch] }, col)
				dst = appendHalf(appendHalf(dst, lo), step)
				for i := range col {
					codes[i*d+ch] = col[i]
				}
			}
			dst = appendPacked(dst, codes[:g*d], c.bits)
		}
		return dst
	}
	codes := make([]uint8, d)
	for r := 0; r < n; r++ {
		row := rows[r*d : (r+1)*d]
		for c0 := 0; c0 < d; c0 += kiviGroup {
			w := min(kiviGroup, d-c0)
			lo, step := c.quantGroup(w, func(i int) float32 { return row[c0+i] }, codes[c0:c0+w])
			dst = appendHalf(appendHalf(dst, lo), step)
		}
		dst = appendPacked(dst, codes, c.bits)
	}
	return dst
}

func (c kiviCodec) Decode(rows []float32, src []byte, d int, isKey bool) error {
	if d <= 0 || len(rows)%d != 0 {
		return fmt.Errorf("%s rows: %d values is not a multiple of head_dim %d", c.Name(), len(rows), d)
	}
	n := len(rows) / d
	if want := c.EncodedLen(n, d); len(src) != want {
		return fmt.Errorf("%s rows: %d bytes for %d rows of %d, want %d", c.Name(), len(src), n, d, want)
	}
	off := 0
	if isKey {
		for r0 := 0; r0 < n; r0 += kiviGroup {
			g := min(kiviGroup, n-r0)
			hdr := src[off : off+4*d]
			off += 4 * d
			codes := src[off : off+packedLen(g*d, c.bits)]
			off += len(codes)
			for i := 0; i < g; i++ {
				for ch := 0; ch < d; ch++ {
					lo, step := half(hdr[4*ch:]), half(hdr[4*ch+2:])
					rows[(r0+i)*d+ch] = lo + float32(unpack(codes, i*d+ch, c.bits))*step
				}
			}
		}
		return nil
	}
	groups := (d + kiviGroup - 1) / kiviGroup
	for r := 0; r < n; r++ {
		hdr := src[off : off+4*groups]
		off += 4 * groups
		codes := src[off : off+packedLen(d, c.bits)]
		off += len(codes)
		for ch := 0; ch < d; ch++ {
			g := ch / kiviGroup
			rows[r*d+ch] = half(hdr[4*g:]) + float32(unpack(codes, ch, c.bits))*half(hdr[4*g+2:])
		}
	}
	return nil
}
