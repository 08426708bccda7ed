//go:build amd64

package engine

//go:noescape
func roundF16AVX(k int, x, dst *float32)

//go:noescape
func roundQ80AVX(nb int, x, dst *float32)

//go:noescape
func q4kAVX(nb int, src *byte, dst *float32)

//go:noescape
func q6kAVX(nb int, src *byte, dst *float32)

func roundF16A(x, dst []float32) {
	k8 := len(x) &^ 7
	dst = dst[:len(x)]
	if k8 > 0 {
		roundF16AVX(k8, &x[0], &dst[0])
	}
	roundF16Go(x[k8:], dst[k8:])
}

func roundQ80A(x, dst []float32) {
	nb := len(x) / 32
	dst = dst[:len(x)]
	if nb > 0 {
		roundQ80AVX(nb, &x[0], &dst[0])
	}
}

func q4kA(dst []float32, src []byte) {
	nb := len(dst) / 256
	if nb > 0 {
		_ = src[:nb*144]
		q4kAVX(nb, &src[0], &dst[0])
	}
}

func q6kA(dst []float32, src []byte) {
	nb := len(dst) / 256
	if nb > 0 {
		_ = src[:nb*210]
		q6kAVX(nb, &src[0], &dst[0])
	}
}
