package baselines

import (
	"math"
	"math/rand/v2"
	"testing"

	"nexusquant/stages"
)

func codec(t *testing.T, name string) stages.RowCodec {
	t.Helper()
	s := stages.DefaultSettings()
	s.Method = name
	if err := s.Validate(); err != nil {
		t.Fatalf("method %s not registered: %v", name, err)
	}
	c, ok := stages.LookupRowCodec(name)
	if !ok {
		t.Fatalf("method %s has no codec", name)
	}
	return c
}

func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(num / den)
}

func TestRoundTripErrorAndSize(t *testing.T) {
	cases := []struct {
		method string
		d, n   int
		maxErr float64 // relative Frobenius error on N(0,1) rows
	}{
		{"q8_0", 64, 40, 0.01},
		{"q4_0", 64, 40, 0.15},
		{"q8_0", 128, 3, 0.01},
		{"kivi4", 64, 40, 0.15},
		{"kivi2", 64, 40, 0.6},
		{"kivi4", 8, 37, 0.15},
		{"kivi2", 8, 5, 0.6},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		for _, isKey := range []bool{true, false} {
			rows := make([]float32, c.n*c.d)
			for i := range rows {
				rows[i] = float32(rng.NormFloat64())
			}
			cd := codec(t, c.method)
			enc := cd.Encode(nil, rows, c.d, isKey)
			if len(enc) != cd.EncodedLen(c.n, c.d) {
				t.Errorf("%s d%d n%d key=%v: encoded %d bytes, EncodedLen %d", c.method, c.d, c.n, isKey, len(enc), cd.EncodedLen(c.n, c.d))
			}
			got := make([]float32, len(rows))
			if err := cd.Decode(got, enc, c.d, isKey); err != nil {
				t.Fatalf("%s: %v", c.method, err)
			}
			if e := relErr(rows, got); e > c.maxErr || e == 0 {
				t.Errorf("%s d%d key=%v: relative error %.4f, want (0, %.2f]", c.method, c.d, isKey, e, c.maxErr)
			}
			if err := cd.Decode(got, enc[:len(enc)-1], c.d, isKey); err == nil {
				t.Errorf("%s: truncated input accepted", c.method)
			}
		}
	}
}

// KIVI quantizes keys per channel: a channel with a large constant offset
// (the outlier channels KIVI is designed for) costs nothing, while per-token
// grouping would spread its range over every other channel.
func TestKiviKeysPerChannel(t *testing.T) {
	d, n := 64, 32
	rows := make([]float32, n*d)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range rows {
		rows[i] = float32(rng.NormFloat64()) * 0.1
		if i%d == 7 {
			rows[i] += 50
		}
	}
	cd := kiviCodec{bits: 2}
	out := make([]float32, len(rows))
	if err := cd.Decode(out, cd.Encode(nil, rows, d, true), d, true); err != nil {
		t.Fatal(err)
	}
	keyErr := relErr(rows, out)
	if err := cd.Decode(out, cd.Encode(nil, rows, d, false), d, false); err != nil {
		t.Fatal(err)
	}
	valErr := relErr(rows, out)
	if keyErr >= valErr {
		t.Errorf("per-channel (key) error %.4f not below per-token (value) error %.4f on an outlier channel", keyErr, valErr)
	}
}

func TestSupported(t *testing.T) {
	if err := Supported("q8_0", 8); err == nil {
		t.Error("q8_0 accepted head_dim 8")
	}
	if err := Supported("q4_0", 64); err != nil {
		t.Error(err)
	}
	if err := Supported("kivi2", 8); err != nil {
		t.Error(err)
	}
}
