package cli

import (
	"fmt"
	"slices"
	"strings"

	"nexusquant/engine"
	"nexusquant/engine/kvquant"
)

// cacheKind validates a --cache-type value before anything is loaded and
// returns it in lower case, the form cacheFactory takes.
func cacheKind(kind string) (string, error) {
	lower := strings.ToLower(kind)
	if !slices.Contains(kvquant.Kinds, lower) {
		return "", usagef("--cache-type %q is not one of %s", kind, strings.Join(kvquant.Kinds, ", "))
	}
	return lower, nil
}

// cacheFactory returns a function making a fresh KV cache of the given kind
// (as cacheKind returns it) for m: nil for the engine's float32 cache. It
// fails when the model's head_dim does not allow the kind (block types need a
// multiple of 32).
func cacheFactory(kind string, m *engine.Model) (func() engine.Cache, error) {
	if kind == "f32" {
		return nil, nil
	}
	mk := func() (*kvquant.Cache, error) {
		return kvquant.New(kind, m.Config.Layers, m.Config.KVHeads, m.Config.HeadDim)
	}
	if _, err := mk(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	return func() engine.Cache {
		c, _ := mk() // validated above; the arguments do not change
		return c
	}, nil
}
