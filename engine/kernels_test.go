package engine

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
)

// TestWithKernels: each kernel set the CPU has gives a copy that computes
// with it while the original keeps its own, both running at once; the
// logits agree to float32 rounding; an unknown or missing set is an error
// naming the ones there are.
func TestWithKernels(t *testing.T) {
	m := randomModel("llama", 3)
	ids := tinyIDs(12)
	if m.Kernels() != Kernels() {
		t.Fatalf("model kernels %q, CPU default %q", m.Kernels(), Kernels())
	}
	want, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range KernelSets() {
		mk, err := m.WithKernels(name)
		if err != nil {
			t.Fatal(err)
		}
		if mk.Kernels() != name || m.Kernels() != Kernels() {
			t.Fatalf("WithKernels(%q): copy %q, original %q", name, mk.Kernels(), m.Kernels())
		}
		var wg sync.WaitGroup
		got := make([][]float32, 2)
		errs := make([]error, 2)
		for i, mm := range []*Model{m, mk} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], _, errs[i] = mm.Forward(context.Background(), mm.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
			}()
		}
		wg.Wait()
		for i := range errs {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
		}
		for j := range want {
			if got[0][j] != want[j] {
				t.Fatalf("original model, run beside %s: logit %d = %g, alone %g", name, j, got[0][j], want[j])
			}
			if math.Abs(float64(got[1][j]-want[j])) > 1e-3*(1+math.Abs(float64(want[j]))) {
				t.Fatalf("%s: logit %d = %g, default kernels %g", name, j, got[1][j], want[j])
			}
		}
	}
	for _, bad := range []string{"avx1024", ""} {
		if _, err := m.WithKernels(bad); err == nil || !strings.Contains(err.Error(), "go") {
			t.Errorf("WithKernels(%q) = %v, want an error listing the sets", bad, err)
		}
	}
}
