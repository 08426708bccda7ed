package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
)

// ModelHash is the hex SHA-256 of the model file's GGUF header (metadata and
// tensor infos): it identifies the model without reading gigabytes of weights.
func ModelHash(m *engine.Model) string {
	sum := sha256.Sum256(m.File.Header())
	return hex.EncodeToString(sum[:])
}

// cacheIdentity is what a packed cache records about where it came from: the
// model (header hash, architecture, file name) and the prefix it holds.
type cacheIdentity struct {
	Model, Arch, File, Prefix string
	Tokens                    int
}

// String is the identity as the cache header stores it: space-separated
// key=value fields, values path-escaped so a file name with spaces (or "=")
// reads back whole.
func (c cacheIdentity) String() string {
	e := url.PathEscape
	return fmt.Sprintf("nexusquant-cache/1 model=%s arch=%s file=%s prefix=%s tokens=%d", e(c.Model), e(c.Arch), e(c.File), e(c.Prefix), c.Tokens)
}

func identityFor(m *engine.Model, prefix []int32) cacheIdentity {
	return cacheIdentity{Model: ModelHash(m), Arch: m.Config.Arch, File: filepath.Base(m.Path), Prefix: tokenizer.HashIDs(prefix), Tokens: len(prefix)}
}

func parseIdentity(s string) (cacheIdentity, error) {
	var c cacheIdentity
	f := strings.Fields(s)
	if len(f) != 6 || f[0] != "nexusquant-cache/1" {
		return c, fmt.Errorf("model identity %q is not one nexusquant writes", s)
	}
	kv := map[string]string{}
	for _, p := range f[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return c, fmt.Errorf("model identity %q is malformed", s)
		}
		u, err := url.PathUnescape(v)
		if err != nil {
			return c, fmt.Errorf("model identity %q: field %s: %v", s, k, err)
		}
		kv[k] = u
	}
	c.Model, c.Arch, c.File, c.Prefix = kv["model"], kv["arch"], kv["file"], kv["prefix"]
	if _, err := fmt.Sscan(kv["tokens"], &c.Tokens); err != nil {
		return c, fmt.Errorf("model identity %q: bad token count", s)
	}
	return c, nil
}
