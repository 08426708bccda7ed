package gguf

import (
	"math"
	"strings"
	"testing"
)

// quantTypes are the block-quantized types DequantizeRow supports.
var quantTypes = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// TestDequantHandBlocks checks one block per type, written out byte by byte,
// against expected values worked out by hand from the format definition.
func TestDequantHandBlocks(t *testing.T) {
	// Q8_0: d = 0.5 (0x3800), quants -128, -1, 0, 1, 127, then 2·i.
	q8 := []byte{0x00, 0x38, 0x80, 0xff, 0x00, 0x01, 0x7f}
	for i := 5; i < 32; i++ {
		q8 = append(q8, byte(2*i))
	}
	q8want := []float32{-64, -0.5, 0, 0.5, 63.5}
	for i := 5; i < 32; i++ {
		q8want = append(q8want, float32(i))
	}

	// Q4_0: d = -2 (0xc000); byte j = 0x(j)(15-j): element j has q = 15-j,
	// element j+16 has q = j; x = d·(q−8).
	q40 := []byte{0x00, 0xc0}
	q40want := make([]float32, 32)
	for j := 0; j < 16; j++ {
		q40 = append(q40, byte(j)<<4|byte(15-j))
		q40want[j] = -2 * float32(15-j-8)
		q40want[j+16] = -2 * float32(j-8)
	}

	// Q4_K: d = 1, dmin = 0.5. Scale bytes: scales 0..3 = 1,2,3,4, mins 0..3 =
	// 0,1,2,3; scales 4..7 = 17,18,19,20 (low nibble 1..4, high bits 1 in the
	// top of bytes 0..3), mins 4..7 = 16+j (low nibble j, high bits 1 in the
	// top of bytes 4..7). All quants 0x21: low nibble 1 (sub-blocks 0,2,4,6),
	// high nibble 2 (sub-blocks 1,3,5,7). x = d·sc·q − dmin·mn.
	q4k := []byte{0x00, 0x3c, 0x00, 0x38,
		0x41, 0x42, 0x43, 0x44, // scales 0..3 (+ high bits of scales 4..7)
		0x40, 0x41, 0x42, 0x43, // mins 0..3 (+ high bits of mins 4..7)
		0x01, 0x12, 0x23, 0x34, // low nibbles: scale 4+j = j+1, min 4+j = j
	}
	for i := 0; i < 128; i++ {
		q4k = append(q4k, 0x21)
	}
	sc := []float32{1, 2, 3, 4, 17, 18, 19, 20}
	mn := []float32{0, 1, 2, 3, 16, 17, 18, 19}
	var q4kwant []float32
	for sub := 0; sub < 8; sub++ {
		q := float32(1 + sub%2)
		for i := 0; i < 32; i++ {
			q4kwant = append(q4kwant, sc[sub]*q-0.5*mn[sub])
		}
	}

	// Q6_K: d = 0.25; scales[i] = i−8; ql all 0x00 and qh all 0xff, so every
	// 6-bit quant is 0b110000 = 48, i.e. q = 16; x = d·scale·16 = 4·(i−8).
	q6k := make([]byte, 210)
	for i := 128; i < 192; i++ {
		q6k[i] = 0xff
	}
	for i := 0; i < 16; i++ {
		q6k[192+i] = byte(int8(i - 8))
	}
	q6k[208], q6k[209] = 0x00, 0x34
	q6kwant := make([]float32, 256)
	for e := range q6kwant {
		q6kwant[e] = 4 * float32(e/16-8)
	}

	cases := []struct {
		name string
		typ  Type
		src  []byte
		want []float32
	}{
		{"Q8_0", Q8_0, q8, q8want},
		{"Q4_0", Q4_0, q40, q40want},
		{"Q4_K", Q4_K, q4k, q4kwant},
		{"Q6_K", Q6_K, q6k, q6kwant},
		{"F32", F32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, []float32{1, -2}},
		{"F16", F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c}, []float32{1, -2, 1.0 / (1 << 24), float32(math.Inf(1))}},
		{"BF16", BF16, []byte{0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40}, []float32{1, -2, 3.140625}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]float32, len(c.want))
			if err := DequantizeRow(c.typ, c.src, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("element %d = %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestDequantSpecBlocks packs random logical blocks (scales, mins, quants)
// per the format definition and checks every decoded value against the
// defining formula; with power-of-two scales the expected values are exact.
func TestDequantSpecBlocks(t *testing.T) {
	for _, typ := range quantTypes {
		t.Run(typ.String(), func(t *testing.T) {
			r := rng(uint64(typ) + 1)
			for trial := 0; trial < 50; trial++ {
				nb := 1 + trial%3 // rows of 1..3 blocks
				var src []byte
				var want []float64
				for k := 0; k < nb; k++ {
					s := randomSpec(typ, &r)
					src = append(src, s.pack(typ)...)
					for e := 0; e < typ.BlockElems(); e++ {
						want = append(want, s.value(typ, e))
					}
				}
				got := make([]float32, len(want))
				if err := DequantizeRow(typ, src, got); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if float64(got[i]) != want[i] {
						t.Fatalf("trial %d element %d (block %d, offset %d) = %v, want %v", trial, i, i/typ.BlockElems(), i%typ.BlockElems(), got[i], want[i])
					}
				}
			}
		})
	}
}

// TestDequantRandomBytes decodes blocks of random bytes (arbitrary half
// scales, subnormals and all) and compares bit for bit with the
// element-by-element reference decoder.
func TestDequantRandomBytes(t *testing.T) {
	for _, typ := range quantTypes {
		t.Run(typ.String(), func(t *testing.T) {
			r := rng(uint64(typ) * 7919)
			for trial := 0; trial < 40; trial++ {
				nb := 1 + trial%4
				src := make([]byte, nb*typ.BlockBytes())
				for i := range src {
					src[i] = byte(r.next())
				}
				got := make([]float32, nb*typ.BlockElems())
				if err := DequantizeRow(typ, src, got); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					blk := src[i/typ.BlockElems()*typ.BlockBytes():]
					want := refElement(typ, blk, i%typ.BlockElems())
					if math.Float32bits(got[i]) != math.Float32bits(want) && !(isNaN32(got[i]) && isNaN32(want)) {
						t.Fatalf("trial %d element %d = %v (%#x), want %v (%#x)", trial, i, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
					}
				}
			}
		})
	}
}

func isNaN32(f float32) bool { return f != f }

// TestF16ToF32 checks every half value against the definition.
func TestF16ToF32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := F16ToF32(uint16(h))
		want := halfToFloat64(uint16(h))
		if math.IsNaN(want) {
			if !isNaN32(got) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// TestBF16ToF32 spot-checks bfloat16 decoding.
func TestBF16ToF32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{{0x3f80, 1}, {0xbf80, -1}, {0x4049, 3.140625}, {0x0000, 0}, {0x7f80, float32(math.Inf(1))}, {0x0001, math.Float32frombits(0x10000)}} {
		if got := BF16ToF32(c.h); got != c.want {
			t.Errorf("BF16ToF32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
}

// TestDequantErrors checks unsupported types and size mismatches.
func TestDequantErrors(t *testing.T) {
	cases := []struct {
		name    string
		typ     Type
		src     int
		dst     int
		wantMsg string
	}{
		{"unsupported known type", IQ2_XXS, 66, 256, "IQ2_XXS"},
		{"unknown type", Type(99), 4, 1, "type(99)"},
		{"Q8_0 short src", Q8_0, 33, 32, "need 34 bytes, got 33"},
		{"Q8_0 long src", Q8_0, 35, 32, "got 35"},
		{"Q4_K partial block", Q4_K, 144, 128, "block size 256"},
		{"F16 odd", F16, 3, 2, "need 4 bytes"},
		{"F32 empty src", F32, 0, 1, "need 4 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := DequantizeRow(c.typ, make([]byte, c.src), make([]float32, c.dst))
			if err == nil || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("err = %v, want it to mention %q", err, c.wantMsg)
			}
		})
	}
	// Empty rows are fine.
	for _, typ := range append([]Type{F32, F16, BF16}, quantTypes...) {
		if err := DequantizeRow(typ, nil, nil); err != nil {
			t.Errorf("%s empty row: %v", typ, err)
		}
	}
	if CanDequantize(IQ4_NL) || !CanDequantize(Q6_K) {
		t.Error("CanDequantize wrong")
	}
}

// TestRowAndFloat32s checks Row slicing and whole-tensor dequantization.
func TestRowAndFloat32s(t *testing.T) {
	r := rng(5)
	vals := make([]float32, 64*3)
	for i := range vals {
		vals[i] = r.norm()
	}
	for _, typ := range []Type{F32, F16, Q8_0, Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			w, err := NewTensor("w", typ, []uint64{64, 3}, vals)
			if err != nil {
				t.Fatal(err)
			}
			ti := &TensorInfo{Name: w.Name, Dims: w.Dims, Type: w.Type, Data: w.Data}
			all, err := ti.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(vals) {
				t.Fatalf("len %d", len(all))
			}
			for i := 0; i < 3; i++ {
				row := ti.Row(i)
				rb, _ := typ.RowBytes(64)
				if len(row) != rb || cap(row) != rb {
					t.Fatalf("row %d: len %d cap %d, want %d", i, len(row), cap(row), rb)
				}
				got := make([]float32, 64)
				if err := DequantizeRow(typ, row, got); err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if got[j] != all[64*i+j] {
						t.Fatalf("row %d elem %d: %v vs %v", i, j, got[j], all[64*i+j])
					}
				}
			}
			for _, bad := range []int{-1, 3, 1 << 40} {
				if ti.Row(bad) != nil {
					t.Errorf("Row(%d) not nil", bad)
				}
			}
			short := *ti
			short.Data = short.Data[:len(short.Data)-1]
			if _, err := short.Float32s(); err == nil {
				t.Error("Float32s on short data: no error")
			}
			if short.Row(2) != nil {
				t.Error("Row(2) of short data not nil")
			}
		})
	}
	bad := &TensorInfo{Name: "x", Dims: []uint64{256}, Type: IQ2_XXS, Data: make([]byte, 66)}
	if _, err := bad.Float32s(); err == nil || !strings.Contains(err.Error(), "IQ2_XXS") {
		t.Errorf("unsupported Float32s err = %v", err)
	}
	if (&TensorInfo{}).Row(0) != nil {
		t.Error("Row of empty TensorInfo not nil")
	}
}
