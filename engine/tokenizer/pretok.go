package tokenizer

import (
	"slices"
	"strings"
)

// preTokenizer describes one tokenizer.ggml.pre value of a byte-level BPE
// vocabulary: the splitters applied in order, and the vocabulary flags
// llama.cpp ties to it.
type preTokenizer struct {
	steps []splitter
	// ignoreMerges: a word that is itself a token is emitted without merging.
	ignoreMerges bool
	// addBOS is the add_bos default when the file does not say.
	addBOS bool
	// noBOS: there is no default BOS id.
	noBOS bool
}

// split runs the steps over the code points cp (with flags fl) and returns
// the word lengths, in code points.
func (p preTokenizer) split(cp []rune, fl []cpFlags) []int {
	pieces := []int{len(cp)}
	for _, step := range p.steps {
		pieces = step(cp, fl, pieces)
	}
	return pieces
}

var (
	gpt2Steps   = []splitter{splitGPT2}
	llama3Steps = []splitter{splitLlama3}
	qwen2Steps  = []splitter{splitQwen2}
	qwen35Steps = []splitter{splitQwen35}
	// starcoder and kin: \p{N}, then GPT-2.
	starcoderSteps = []splitter{splitMatches(one(isNumber)), splitGPT2}
)

// preTokenizers maps every supported tokenizer.ggml.pre value (aliases
// included) to its definition, following llama.cpp's llama-vocab.cpp.
var preTokenizers = func() map[string]preTokenizer {
	m := map[string]preTokenizer{
		// "default" (also used when tokenizer.ggml.pre is missing).
		"default": {steps: []splitter{
			splitMatches(run(punctOr("$+<=>^~|"))),
			splitGPT2,
			splitMatches(run(isNumber)),
			splitMatches(threeDigits),
		}},
		"falcon": {steps: []splitter{
			splitMatches(run(punctOr("$+<=>^~|`"))),
			splitGPT2,
			splitMatches(threeDigits),
		}},
		"deepseek-coder": {steps: []splitter{
			splitMatches(one(isRN)),
			splitMatches(spaceThenRun(isLetter)),
			splitMatches(spaceThenRun(isPunct)),
			splitMatches(run(inRanges(cjkRanges))),
			splitMatches(one(isNumber)),
		}},
		"deepseek-llm": {steps: []splitter{
			splitMatches(one(isRN)),
			splitMatches(spaceThenRun(inRanges(deepseekLetterRanges))),
			splitMatches(spaceThenRun(inRanges(deepseekPunctRanges))),
			splitTrailingSpace,
			splitMatches(run(inRanges(cjkRanges))),
			splitMatches(run(isNumber)),
		}},
		"dbrx":        {steps: llama3Steps},
		"smaug-bpe":   {steps: llama3Steps},
		"chatglm-bpe": {steps: llama3Steps, noBOS: true},
		"glm4":        {steps: llama3Steps, noBOS: true},
		"qwen35":      {steps: qwen35Steps},
	}
	for _, name := range []string{"gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "exaone4", "gigachat", "a.x-4.0", "mellum", "granite-docling"} {
		m[name] = preTokenizer{steps: gpt2Steps}
	}
	for _, name := range []string{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"} {
		m[name] = preTokenizer{steps: llama3Steps, ignoreMerges: true, addBOS: true}
	}
	for _, name := range []string{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2"} {
		m[name] = preTokenizer{steps: qwen2Steps}
	}
	for _, name := range []string{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"} {
		m[name] = preTokenizer{steps: starcoderSteps}
	}
	return m
}()

// supportedPre lists the supported tokenizer.ggml.pre values, for errors.
func supportedPre() string {
	names := make([]string, 0, len(preTokenizers))
	for name := range preTokenizers {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
