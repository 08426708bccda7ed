package engine

// kernels returns the kernel set m computes with: the one WithKernels chose,
// else the CPU's default.
func (m *Model) kernels() *kernelSet {
	if m.ks != nil {
		return m.ks
	}
	return cpuKernels
}

// Kernels names the kernel set m computes with ("avx512", "avx2" or "go").
func (m *Model) Kernels() string { return m.kernels().name }

// WithKernels returns a copy of m that computes with the kernel set called
// name (one of KernelSets), for side-by-side comparisons: the copy shares
// m's weights and file, and m itself is unchanged, so the two may run
// Forward at the same time. Close only one of them.
func (m *Model) WithKernels(name string) (*Model, error) {
	ks, err := kernelsNamed(name)
	if err != nil {
		return nil, err
	}
	mm := *m
	mm.ks = ks
	return &mm, nil
}
