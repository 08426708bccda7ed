package gguf

import (
	"testing"
)

// Benchmarks of the hot paths. SetBytes counts the source (quantized) bytes,
// so MB/s is weight data consumed; Melem/s is float32 outputs produced.
//
//	go test ./engine/gguf -run '^$' -bench Dequantize -benchtime 200ms

const benchRow = 4096 // elements per row, a typical hidden size

// benchSource returns one row of type t with realistic content: random
// values quantized where a quantizer exists, random bytes with sane half
// scales otherwise.
func benchSource(t Type) []byte {
	r := rng(3)
	vals := make([]float32, benchRow)
	for i := range vals {
		vals[i] = r.norm() * 0.02
	}
	if CanQuantize(t) {
		b, _ := Quantize(t, vals)
		return b
	}
	n, _ := t.RowBytes(benchRow)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

func BenchmarkDequantizeRow(b *testing.B) {
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			src := benchSource(typ)
			dst := make([]float32, benchRow)
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := DequantizeRow(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchRow)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}

func BenchmarkQuantizeRow(b *testing.B) {
	r := rng(4)
	src := make([]float32, benchRow)
	for i := range src {
		src[i] = r.norm()
	}
	for _, typ := range []Type{F16, Q8_0, Q4_0} {
		b.Run(typ.String(), func(b *testing.B) {
			dst := make([]byte, len(benchSource(typ)))
			b.SetBytes(4 * benchRow)
			for i := 0; i < b.N; i++ {
				if err := QuantizeRow(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	data := sampleFile(b)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse("bench.gguf", data); err != nil {
			b.Fatal(err)
		}
	}
}
