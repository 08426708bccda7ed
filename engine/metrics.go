package engine

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Metrics compares a compressed run with its baseline over the same scored
// positions (SPEC §8).
type Metrics struct {
	PPLBase, PPL float64    // exp(mean NLL) of the baseline and the compressed run
	DeltaPPLPct  float64    // 100·(PPL/PPLBase − 1)
	DeltaPPLCI   [2]float64 // 95% paired-bootstrap interval of DeltaPPLPct
	KLD          float64    // mean KL(p_base ‖ p_comp) in nats
	Top1Agree    float64    // fraction of positions with the same argmax
	N            int        // positions compared
}

// DefaultBootstrap is the number of bootstrap resamples CompareLogits draws
// when asked for none.
const DefaultBootstrap = 1000

// CompareLogits compares two runs' logits: base and comp hold one row of vocab
// logits per scored position, and targets[i] is the token row i predicts. The
// interval resamples positions with replacement (bootstrap times, ≤ 0 means
// DefaultBootstrap) from a generator seeded with seed, and takes the 2.5% and
// 97.5% quantiles. Rows beyond the shortest of base, comp and targets, and
// positions whose target is outside the vocabulary, are left out (N counts the
// rest). Softmaxes are computed in float64.
func CompareLogits(base, comp []float32, vocab int, targets []int32, bootstrap int, seed int64) Metrics {
	var mt Metrics
	if vocab <= 0 {
		return mt
	}
	rows := min(len(base)/vocab, len(comp)/vocab, len(targets))
	nllB := make([]float64, 0, rows)
	nllC := make([]float64, 0, rows)
	lpB := make([]float64, vocab)
	lpC := make([]float64, vocab)
	var kld float64
	agree := 0
	for i := 0; i < rows; i++ {
		t := targets[i]
		if t < 0 || int(t) >= vocab {
			continue
		}
		b, c := base[i*vocab:(i+1)*vocab], comp[i*vocab:(i+1)*vocab]
		logSoftmax(b, lpB)
		logSoftmax(c, lpC)
		nllB = append(nllB, -lpB[t])
		nllC = append(nllC, -lpC[t])
		var kl float64
		for j, lb := range lpB {
			if p := math.Exp(lb); p > 0 {
				kl += p * (lb - lpC[j])
			}
		}
		kld += kl
		if argmax(b) == argmax(c) {
			agree++
		}
	}
	n := len(nllB)
	mt.N = n
	if n == 0 {
		return mt
	}
	mb, mc := mean(nllB), mean(nllC)
	mt.PPLBase, mt.PPL = math.Exp(mb), math.Exp(mc)
	mt.DeltaPPLPct = deltaPct(mb, mc)
	mt.KLD = kld / float64(n)
	mt.Top1Agree = float64(agree) / float64(n)

	if bootstrap <= 0 {
		bootstrap = DefaultBootstrap
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x626f6f74))
	deltas := make([]float64, bootstrap)
	for r := range deltas {
		var sb, sc float64
		for k := 0; k < n; k++ {
			j := rng.IntN(n)
			sb += nllB[j]
			sc += nllC[j]
		}
		deltas[r] = deltaPct(sb/float64(n), sc/float64(n))
	}
	sort.Float64s(deltas)
	mt.DeltaPPLCI = [2]float64{quantile(deltas, 0.025), quantile(deltas, 0.975)}
	return mt
}

// deltaPct is 100·(exp(mc)/exp(mb) − 1) for mean NLLs mb (base), mc.
func deltaPct(mb, mc float64) float64 { return 100 * math.Expm1(mc-mb) }

// logSoftmax writes log softmax(x) to dst in float64.
func logSoftmax(x []float32, dst []float64) {
	mx := float64(x[0])
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	for i, v := range x {
		dst[i] = float64(v) - lse
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// quantile interpolates linearly between the order statistics of sorted x.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}
