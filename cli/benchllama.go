package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// llamaBenchResult is llama.cpp's figures for the same file, threads and
// lengths as ours, from llama-bench runs interleaved with our rounds; JSON
// keys are stable.
type llamaBenchResult struct {
	Path        string  `json:"path"`
	BuildCommit string  `json:"build_commit,omitempty"`
	Threads     int     `json:"threads"`
	PrefillTokS float64 `json:"prefill_tok_s"`
	DecodeTokS  float64 `json:"decode_tok_s,omitempty"`
	// DecodeDepth is the tokens already in the context when llama-bench's
	// tg test decodes (its n_depth): the prefill, as in our decode steps.
	DecodeDepth int `json:"decode_depth"`
	Reps        int `json:"reps"`
}

// llamaBenchRow is one test of llama-bench's JSON output (-o json): a pp test
// has n_prompt > 0 and n_gen = 0, a tg test n_prompt = 0 and n_gen > 0.
type llamaBenchRow struct {
	BuildCommit string  `json:"build_commit"`
	NThreads    int     `json:"n_threads"`
	NPrompt     int     `json:"n_prompt"`
	NGen        int     `json:"n_gen"`
	NDepth      int     `json:"n_depth"`
	AvgTS       float64 `json:"avg_ts"`
	StddevTS    float64 `json:"stddev_ts"`
}

// llamaBench runs one llama-bench invocation: one repetition (-r 1, after
// llama-bench's own warm-up run) of a pp test of prefill tokens into an
// empty context and, when decode > 0, a tg test of decode tokens after
// prefill tokens of context (-d 0,prefill: our decode steps follow the
// prefill too, and at depth attention costs), on model with threads threads.
// With two depths llama-bench also runs a pp test at depth prefill and a tg
// test at depth 0, which are not used.
type llamaBench struct {
	path                     string
	model                    string
	threads, prefill, decode int
}

// args is the command line given to llama-bench.
func (lb *llamaBench) args() []string {
	args := []string{"-m", lb.model, "-t", strconv.Itoa(lb.threads), "-p", strconv.Itoa(lb.prefill),
		"-n", strconv.Itoa(lb.decode)}
	if lb.decode > 0 {
		args = append(args, "-d", "0,"+strconv.Itoa(lb.prefill))
	}
	return append(args, "-r", "1", "-o", "json")
}

// check reports a missing or unusable binary before any measurement starts.
func (lb *llamaBench) check() error {
	st, err := os.Stat(lb.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("llama-bench %s: no such file (build llama.cpp's llama-bench, or give its path to --llama-bench)", lb.path)
	case err != nil:
		return fmt.Errorf("llama-bench %s: %w", lb.path, err)
	case st.IsDir():
		return fmt.Errorf("llama-bench %s is a folder, not the llama-bench program", lb.path)
	case st.Mode()&0o111 == 0:
		return fmt.Errorf("llama-bench %s is not executable", lb.path)
	}
	return nil
}

// run runs llama-bench once and returns its pp and tg speeds (tg 0 when
// decode is 0). Errors name the binary and say what was wrong with its output.
func (lb *llamaBench) run(ctx context.Context) (pp, tg llamaBenchRow, err error) {
	cmd := exec.CommandContext(ctx, lb.path, lb.args()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return pp, tg, ctx.Err()
		}
		return pp, tg, fmt.Errorf("llama-bench %s %s: %v%s", lb.path, strings.Join(lb.args(), " "), err, lastLine(stderr.Bytes()))
	}
	return lb.parse(stdout.Bytes())
}

// parse reads llama-bench's JSON array and picks the pp and tg rows.
func (lb *llamaBench) parse(out []byte) (pp, tg llamaBenchRow, err error) {
	var rows []llamaBenchRow
	if err := json.Unmarshal(out, &rows); err != nil {
		return pp, tg, fmt.Errorf("llama-bench %s: output is not llama-bench's JSON array (-o json): %v; it began %q", lb.path, err, head(out, 80))
	}
	var havePP, haveTG bool
	for _, r := range rows {
		switch {
		case r.NPrompt == lb.prefill && r.NGen == 0 && r.NDepth == 0:
			pp, havePP = r, true
		case lb.decode > 0 && r.NPrompt == 0 && r.NGen == lb.decode && r.NDepth == lb.prefill:
			tg, haveTG = r, true
		}
	}
	switch {
	case !havePP:
		return pp, tg, fmt.Errorf("llama-bench %s: no pp%d row (n_prompt %d, n_gen 0) among its %d JSON rows", lb.path, lb.prefill, lb.prefill, len(rows))
	case lb.decode > 0 && !haveTG:
		return pp, tg, fmt.Errorf("llama-bench %s: no tg%d row at depth %d (n_prompt 0, n_gen %d, n_depth %d) among its %d JSON rows", lb.path, lb.decode, lb.prefill, lb.decode, lb.prefill, len(rows))
	}
	for _, r := range []llamaBenchRow{pp, tg} {
		if r == (llamaBenchRow{}) {
			continue
		}
		if !(r.AvgTS > 0) || math.IsInf(r.AvgTS, 0) {
			return pp, tg, fmt.Errorf("llama-bench %s: avg_ts %v of the n_prompt %d / n_gen %d row is not a positive speed", lb.path, r.AvgTS, r.NPrompt, r.NGen)
		}
	}
	return pp, tg, nil
}

// lastLine returns ": " and the last non-empty line of b, or "" when b is blank.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return ": " + l
	}
	return ""
}

// head returns the first n bytes of b as a string, trimmed.
func head(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// interleave runs each step once per repetition, in order within a
// repetition (ours, theirs, ours, theirs, …), so that drift in the machine's
// speed (other load, frequency scaling) hits every step alike. It stops at
// the first error.
func interleave(reps int, steps ...func(rep int) error) error {
	for r := 0; r < reps; r++ {
		for _, step := range steps {
			if err := step(r); err != nil {
				return err
			}
		}
	}
	return nil
}
