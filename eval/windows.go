package eval

import "fmt"

// Windows cuts a tokenized text into k non-overlapping windows of
// prefix+continuation tokens (SPEC §8). ids is the whole text tokenized once;
// when bos >= 0, ids[0] must be BOS, every window starts with BOS followed by
// the next prefix+continuation−1 tokens after the previous window. When bos < 0
// (a vocabulary that adds no BOS) windows are plain consecutive slices.
// k = 0 takes as many whole windows as the text holds.
func Windows(ids []int32, bos int32, prefix, continuation, k int) ([][]int32, error) {
	n := prefix + continuation
	if prefix < 1 || continuation < 2 {
		return nil, fmt.Errorf("prefix %d and continuation %d: need prefix ≥ 1 and continuation ≥ 2 (the first continuation token is predicted before compression)", prefix, continuation)
	}
	if k < 0 {
		return nil, fmt.Errorf("%d windows: want 0 (as many as the text holds) or more", k)
	}
	body := ids
	step := n
	if bos >= 0 {
		if len(ids) == 0 || ids[0] != bos {
			return nil, fmt.Errorf("tokenized text does not start with BOS %d", bos)
		}
		body = ids[1:]
		step = n - 1
	}
	avail := len(body) / step
	if avail == 0 {
		return nil, fmt.Errorf("the text has %d tokens, fewer than one window of %d (prefix %d + continuation %d)", len(ids), n, prefix, continuation)
	}
	if k == 0 {
		k = avail
	}
	if k > avail {
		return nil, fmt.Errorf("the text has %d tokens: room for %d windows of %d, not %d", len(ids), avail, n, k)
	}
	out := make([][]int32, k)
	for w := range out {
		win := make([]int32, 0, n)
		if bos >= 0 {
			win = append(win, bos)
		}
		out[w] = append(win, body[w*step:(w+1)*step]...)
	}
	return out, nil
}
