package eval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
	"nexusquant/stages"
)

// NeedleOptions configure needle retrieval (SPEC §8).
type NeedleOptions struct {
	Depths   []float64 // default 0.1, 0.5, 0.9
	Trials   int       // needles per depth (default 3)
	Haystack string    // filler text (default: a built-in neutral text)
	Tokens   int       // haystack length in tokens (default: what fits the context)
	Answer   int       // tokens generated for the answer (default 12)
	Seed     int64
}

// NeedleResult is recall by depth, for the compressed cache and the baseline.
type NeedleResult struct {
	Depths         []NeedleDepth `json:"depths"`
	Recall         float64       `json:"recall"`
	BaselineRecall float64       `json:"baseline_recall"`
	PromptTokens   int           `json:"prompt_tokens"`
}

// NeedleDepth is one depth's outcome.
type NeedleDepth struct {
	Depth         float64  `json:"depth"`
	Trials        int      `json:"trials"`
	Found         int      `json:"found"`
	BaselineFound int      `json:"baseline_found"`
	Answers       []string `json:"answers"`
	// BaselineAnswers are the uncompressed cache's answers.
	BaselineAnswers []string `json:"baseline_answers"`
}

const defaultHaystack = "The village sat at the edge of a wide green valley. Every morning the baker opened his shop, the children walked to school, and the old clock in the square rang eight times. " +
	"Farmers brought apples and bread to the market, and travellers stopped to rest by the fountain before they went on along the river road. "

// Needle inserts a sentence holding a random 4–6 digit number at each depth of
// a haystack, asks for it, and answers greedily from the cache compressed with
// s — and, for comparison, from the uncompressed cache.
func Needle(ctx context.Context, m *engine.Model, s stages.Settings, o NeedleOptions) (*NeedleResult, error) {
	if m.Tok == nil {
		return nil, fmt.Errorf("%s has no tokenizer", m.Path)
	}
	if err := checkMethod(s, m); err != nil {
		return nil, err
	}
	if len(o.Depths) == 0 {
		o.Depths = []float64{0.1, 0.5, 0.9}
	}
	if o.Trials <= 0 {
		o.Trials = 3
	}
	if o.Answer <= 0 {
		o.Answer = 12
	}
	hay := o.Haystack
	if strings.TrimSpace(hay) == "" {
		hay = defaultHaystack
	}
	question := "\nQuestion: What is the secret number? Answer: The secret number is"
	enc := func(t string) []int32 { return m.Tok.Encode(t, tokenizer.Options{}) }
	budget := m.Config.Ctx - len(enc(question)) - len(enc(" The secret number is 000000.")) - o.Answer - 4
	if o.Tokens > 0 {
		budget = min(budget, o.Tokens)
	}
	if budget < 32 {
		return nil, fmt.Errorf("the model's context of %d tokens leaves no room for a haystack", m.Config.Ctx)
	}
	words := strings.Fields(hay)
	for len(words) > 0 && len(enc(strings.Join(words, " "))) < budget && len(words) < 1<<16 {
		words = append(words, words...) // repeat short haystacks
	}
	// Trim to the budget by binary search on the word count.
	lo, hi := 1, len(words)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(enc(strings.Join(words[:mid], " "))) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	words = words[:lo]

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x6e65656466))
	res := &NeedleResult{}
	var found, baseFound, total int
	for _, depth := range o.Depths {
		d := NeedleDepth{Depth: depth, Trials: o.Trials}
		for trial := 0; trial < o.Trials; trial++ {
			digits := 4 + rng.IntN(3)
			num := strconv.Itoa(pow10(digits-1) + rng.IntN(9*pow10(digits-1)))
			at := int(depth * float64(len(words)))
			text := strings.Join(words[:at], " ") + " The secret number is " + num + ". " + strings.Join(words[at:], " ") + question
			ids := m.Tok.Encode(text, tokenizer.Options{AddSpecial: true})
			res.PromptTokens = len(ids)
			pf, err := prefillFor(ctx, m, ids, s.ObsWindow, nil)
			if err != nil {
				return nil, err
			}
			pr, err := pf.pipe.Run(ctx, s)
			if err != nil {
				return nil, err
			}
			ans, err := greedy(ctx, m, NewOverlay(Packed(pr.Compressed)), ids, len(ids), pf.first, o.Answer)
			if err != nil {
				return nil, err
			}
			base, err := greedy(ctx, m, NewOverlay(pf.cache), ids, len(ids), pf.first, o.Answer)
			if err != nil {
				return nil, err
			}
			a := m.Tok.Decode(ans)
			d.Answers = append(d.Answers, a)
			if strings.Contains(a, num) {
				d.Found++
			}
			b := m.Tok.Decode(base)
			d.BaselineAnswers = append(d.BaselineAnswers, b)
			if strings.Contains(b, num) {
				d.BaselineFound++
			}
		}
		found += d.Found
		baseFound += d.BaselineFound
		total += d.Trials
		res.Depths = append(res.Depths, d)
	}
	res.Recall = float64(found) / float64(total)
	res.BaselineRecall = float64(baseFound) / float64(total)
	return res, nil
}

func pow10(n int) int {
	p := 1
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}
