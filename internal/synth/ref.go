package synth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"nexusquant/engine/tokenizer"
	"os"
	"regexp"
	"strconv"
)

// Ref is llama.cpp's figures for one synthetic file, as
// engine/testdata/archref/regen.sh records them: the perplexity of a text
// (llama-perplexity -c Ctx --chunks Chunks) and, for each scored position in
// order, llama.cpp's argmax token and the gap between its two best logits
// (from --kl-divergence-base, whose log-probabilities are stored to within
// 2.5e-4).
type Ref struct {
	File   string  `json:"file"`
	SHA256 string  `json:"sha256"` // of the model file the figures came from
	Text   string  `json:"text"`   // file name under ../shared/text
	Ctx    int     `json:"ctx"`
	Chunks int     `json:"chunks"`
	PPL    float64 `json:"ppl"`
	PPLErr float64 `json:"ppl_err"`
	// TokensSHA256 is the sha256 of the evaluated tokens (the first
	// n_chunk·n_ctx of the tokenized text, little-endian int32, as
	// llama-perplexity writes them before putting BOS in each chunk), to
	// check the tokenizer first.
	TokensSHA256 string    `json:"tokens_sha256,omitempty"`
	Argmax       []int32   `json:"argmax,omitempty"`
	Gap          []float32 `json:"gap,omitempty"`
	// Ours is the engine's perplexity of the same run, recorded where CI
	// cannot recompute it (files made by llama-quantize).
	Ours float64 `json:"ours_ppl,omitempty"`
}

// ReadRef reads a Ref from a JSON file.
func ReadRef(path string) (*Ref, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Ref
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Argmax) != len(r.Gap) {
		return nil, fmt.Errorf("%s: %d argmax values but %d gaps", path, len(r.Argmax), len(r.Gap))
	}
	return &r, nil
}

var finalPPL = regexp.MustCompile(`Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)`)

// ParsePPL reads "Final estimate: PPL = X +/- Y" from llama-perplexity's log.
func ParsePPL(log []byte) (ppl, err float64, e error) {
	m := finalPPL.FindSubmatch(log)
	if m == nil {
		return 0, 0, fmt.Errorf("no \"Final estimate\" line in the llama-perplexity log")
	}
	ppl, _ = strconv.ParseFloat(string(m[1]), 64)
	err, _ = strconv.ParseFloat(string(m[2]), 64)
	return ppl, err, nil
}

// ParseLogits reads a llama-perplexity --kl-divergence-base file: the
// header ("_logits_", n_ctx, n_vocab, n_chunk, the tokens) and, for each
// chunk, n_ctx−1−n_ctx/2 rows of [scale float32, min_log_prob float32,
// n_vocab uint16 levels] padded to 2·⌈n_vocab/2⌉+4 uint16. It returns the
// tokens' hash and each row's argmax and top-two gap.
func ParseLogits(data []byte) (tokHash string, argmax []int32, gap []float32, err error) {
	if len(data) < 20 || string(data[:8]) != "_logits_" {
		return "", nil, nil, fmt.Errorf("not a llama-perplexity logits file")
	}
	nctx := int(int32(binary.LittleEndian.Uint32(data[8:])))
	rest := data[12:]
	nvocab := int(int32(binary.LittleEndian.Uint32(rest)))
	nchunk := int(int32(binary.LittleEndian.Uint32(rest[4:])))
	rest = rest[8:]
	if nctx < 4 || nvocab < 2 || nchunk <= 0 || int64(nctx)*int64(nchunk) > int64(len(rest)/4) {
		return "", nil, nil, fmt.Errorf("bad logits header: n_ctx %d, n_vocab %d, n_chunk %d for %d bytes", nctx, nvocab, nchunk, len(data))
	}
	ids := make([]int32, nctx*nchunk)
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	rest = rest[4*len(ids):]
	nv := 2*((nvocab+1)/2) + 4
	rows := nchunk * (nctx - 1 - nctx/2)
	if int64(len(rest)) != int64(rows)*int64(nv)*2 {
		return "", nil, nil, fmt.Errorf("logits file holds %d bytes of rows, %d rows of %d need %d", len(rest), rows, nv, rows*nv*2)
	}
	for r := 0; r < rows; r++ {
		row := rest[r*nv*2 : (r+1)*nv*2]
		scale := math.Float32frombits(binary.LittleEndian.Uint32(row))
		best, second := -1, -1
		lv := func(i int) uint16 { return binary.LittleEndian.Uint16(row[8+2*i:]) }
		for i := 0; i < nvocab; i++ {
			switch {
			case best < 0 || lv(i) > lv(best):
				best, second = i, best
			case second < 0 || lv(i) > lv(second):
				second = i
			}
		}
		argmax = append(argmax, int32(best))
		gap = append(gap, scale*float32(int(lv(best))-int(lv(second))))
	}
	return tokenizer.HashIDs(ids), argmax, gap, nil
}
