package eval

import (
	"context"
	"time"

	"nexusquant/stages"
)

// RerunCost is what a live settings change costs in the pipeline (the TUI
// relies on it being small): the time to re-run after a key_bits change
// (quantize and entropy) and after an eviction_rate change (evict onward), on
// window 0, continuation not included.
type RerunCost struct {
	KeyBitsMs          float64  `json:"key_bits_ms"`
	KeyBitsStages      []string `json:"key_bits_stages"`
	EvictionRateMs     float64  `json:"eviction_rate_ms"`
	EvictionRateStages []string `json:"eviction_rate_stages"`
}

// RerunCost measures the two live-update costs from settings s (which must
// have been run) and leaves window 0's pipeline holding s's results again.
func (e *Explorer) RerunCost(ctx context.Context, s stages.Settings) (*RerunCost, error) {
	p := e.Windows[0].pipe
	kb := s
	kb.KeyBits = 3
	if s.KeyBits == 3 {
		kb.KeyBits = 2
	}
	er := s
	er.EvictionRate = s.EvictionRate + 0.05
	if er.EvictionRate >= 1 {
		er.EvictionRate = s.EvictionRate - 0.05
	}
	out := &RerunCost{}
	for _, c := range []struct {
		s      stages.Settings
		ms     *float64
		stages *[]string
	}{{kb, &out.KeyBitsMs, &out.KeyBitsStages}, {er, &out.EvictionRateMs, &out.EvictionRateStages}} {
		if _, err := p.Run(ctx, s); err != nil { // back to s, so each change starts from it
			return nil, err
		}
		t0 := time.Now()
		r, err := p.Run(ctx, c.s)
		if err != nil {
			return nil, err
		}
		*c.ms = ms(time.Since(t0).Seconds())
		*c.stages = r.Report.Reran
	}
	if _, err := p.Run(ctx, s); err != nil {
		return nil, err
	}
	return out, nil
}
