package stages

import "context"

// TEMPORARY shim until the pipeline refactor lands (wt-stages).
type RunOptions struct{ OnStage func(StageReport) }

func (p *Pipeline) RunWith(ctx context.Context, s Settings, opts RunOptions) (*Result, error) {
	r, err := p.Run(ctx, s)
	if err == nil && opts.OnStage != nil {
		for _, st := range r.Report.Stages {
			opts.OnStage(st)
		}
	}
	return r, err
}
