package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"nexusquant/internal/modelfind"
	"nexusquant/internal/modelpull"
	"nexusquant/internal/units"
)

func init() {
	register(&command{name: "pull", summary: "download a GGUF model from Hugging Face (or an https URL)", run: runPull})
}

// pullJSON is the result of `pull --json`.
type pullJSON struct {
	Path    string `json:"path"`
	URL     string `json:"url"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Checked bool   `json:"checked"`
	Resumed bool   `json:"resumed"`
	Existed bool   `json:"existed"`
}

func runPull(env *Env, args []string) error {
	fset := newFlags(env, "pull", "[--dir D] [--json] OWNER/REPO[:QUANT] | OWNER/REPO/FILE.gguf | https://…")
	dir := fset.String("dir", "", "download into this folder (default: $XDG_CACHE_HOME/nexusquant/models, where `nexusquant models` looks)")
	asJSON := fset.Bool("json", false, "print the result as JSON")
	quiet := fset.Bool("quiet", false, "no progress line")
	// The reference may come before or after the flags.
	var refs []string
	rest := args
	for {
		if err := fset.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fset.NArg() == 0 {
			break
		}
		refs = append(refs, fset.Arg(0))
		rest = fset.Args()[1:]
	}
	if len(refs) != 1 {
		return usagef("pull takes one model: OWNER/REPO[:QUANT], OWNER/REPO/FILE.gguf or an https URL")
	}
	if *dir == "" {
		*dir = modelfind.CacheDir(findEnv())
		if *dir == "" {
			return usagef("no home folder or XDG_CACHE_HOME: give --dir")
		}
	}
	c := modelpull.FromEnv(os.Getenv)
	show, done := progressLine(env.Stderr, *quiet)
	var last time.Time
	c.Progress = func(n, total int64) {
		if now := time.Now(); now.Sub(last) > 100*time.Millisecond || n == total {
			last = now
			if total > 0 {
				show("%s of %s (%.0f%%)", units.Bytes(n), units.Bytes(total), 100*float64(n)/float64(total))
			} else {
				show("%s", units.Bytes(n))
			}
		}
	}
	res, err := c.Pull(env.Ctx, refs[0], *dir)
	done()
	if err != nil {
		return err
	}
	env.Log.Info("pull", "url", res.URL, "path", res.Path, "bytes", res.Bytes, "sha256", res.SHA256, "resumed", res.Resumed, "existed", res.Existed)
	if *asJSON {
		return writeJSON(env.Stdout, pullJSON{res.Path, res.URL, res.Bytes, res.SHA256, res.Checked, res.Resumed, res.Existed})
	}
	switch {
	case res.Existed:
		fmt.Fprintf(env.Stderr, "already there (%s)\n", units.Bytes(res.Bytes))
	case res.Checked:
		fmt.Fprintf(env.Stderr, "%s, sha256 checked\n", units.Bytes(res.Bytes))
	default:
		fmt.Fprintf(env.Stderr, "%s (no published sha256 to check)\n", units.Bytes(res.Bytes))
	}
	fmt.Fprintln(env.Stdout, res.Path)
	return nil
}
