// Package modelfind finds the GGUF model files on this machine: in the
// current folder (top level only), nexusquant's own download folder, the
// Hugging Face hub cache, ollama's store, LM Studio's folder and llama.cpp's
// download cache, and describes each from its header alone (no weights are
// read). The command line (`nexusquant models`) and the explorer share it.
//
// The places come from an Env (the environment variables, the home and
// current folders), so tests lay out a fake home without touching the
// process environment.
package modelfind

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"nexusquant/engine"
)

// Kind says how a folder is searched and its files named.
type Kind int

const (
	// Folder is searched recursively (hidden folders skipped); a file is
	// named by its path relative to the folder. A Hugging Face repo folder
	// (models--OWNER--REPO) met on the way is read as in HFHub.
	Folder Kind = iota
	// TopLevel is searched without descending: only files directly in it.
	TopLevel
	// HFHub is a Hugging Face hub cache: models--OWNER--REPO/snapshots/REV/…
	// symlinks into blobs/; a file is named "OWNER/REPO · PATH".
	HFHub
	// Ollama is an ollama models folder: manifests under
	// manifests/HOST/NAMESPACE/NAME/TAG name the model blob of each tag,
	// stored as blobs/sha256-HEX; a file is named "NAME:TAG" (library
	// models), "NAMESPACE/NAME:TAG" or "HOST/NAMESPACE/NAME:TAG".
	Ollama
)

// Dir is one place to search.
type Dir struct {
	Path   string
	Kind   Kind
	Source string // where the files come from, e.g. "here", "ollama", "huggingface"
}

// Dirs is the list of places to search, in order: a file reached twice is
// reported once, from the first place that reaches it.
type Dirs []Dir

// Found is one model file.
type Found struct {
	Path   string        // the file (for the hub and ollama, the path before symlinks are followed)
	Source string        // the Dir's Source
	Name   string        // a name for people, e.g. "llama3.2:1b" or "ggml-org/models · tinyllamas/stories260K.gguf"
	Shape  *engine.Shape // from the header; nil when it could not be read (then Err says why)
	Bytes  int64         // the file's size
	Err    string        // why the header could not be read ("" when Shape is set)
}

// Env is what DefaultDirs reads. Getenv returns an environment variable ("" when unset).
type Env struct {
	Getenv func(string) string
	// Home is the home folder ("" → $HOME); Cwd the current folder ("" → ".").
	Home, Cwd string
	// SystemOllama is ollama's system-wide store, searched besides the
	// user's (OSEnv sets /usr/share/ollama/.ollama/models; "" leaves it out).
	SystemOllama string
}

// OSEnv is the process's environment.
func OSEnv() Env {
	home, _ := os.UserHomeDir()
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "."
	}
	return Env{Getenv: os.Getenv, Home: home, Cwd: cwd, SystemOllama: "/usr/share/ollama/.ollama/models"}
}

func (e Env) get(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e Env) home() string {
	if e.Home != "" {
		return e.Home
	}
	return e.get("HOME")
}

// cacheHome is $XDG_CACHE_HOME when it is an absolute path, else ~/.cache.
func (e Env) cacheHome() string {
	if x := e.get("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		return x
	}
	if h := e.home(); h != "" {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// CacheDir is nexusquant's own model folder, where `nexusquant pull`
// downloads: $XDG_CACHE_HOME/nexusquant/models (~/.cache/nexusquant/models
// without it); "" when neither is known.
func CacheDir(e Env) string {
	c := e.cacheHome()
	if c == "" {
		return ""
	}
	return filepath.Join(c, "nexusquant", "models")
}

// DefaultDirs is DirsFor(OSEnv()).
func DefaultDirs() Dirs { return DirsFor(OSEnv()) }

// DirsFor lists the usual places of env, in this order:
//
//   - "here": the current folder, top level only;
//   - "nexusquant": CacheDir(env);
//   - "huggingface": $HF_HUB_CACHE, else $HF_HOME/hub, else
//     $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub;
//   - "ollama": $OLLAMA_MODELS, ~/.ollama/models and env.SystemOllama;
//   - "lmstudio": ~/.lmstudio/models and ~/.cache/lm-studio/models;
//   - "llama.cpp": $LLAMA_CACHE, else $XDG_CACHE_HOME/llama.cpp, else
//     ~/.cache/llama.cpp.
//
// Places that are not known (no home folder) are left out; places that do
// not exist are kept (Find skips them silently).
func DirsFor(env Env) Dirs {
	var d Dirs
	add := func(path string, k Kind, src string) {
		if path != "" {
			d = append(d, Dir{Path: path, Kind: k, Source: src})
		}
	}
	home, cache := env.home(), env.cacheHome()
	join := func(base string, elem ...string) string {
		if base == "" {
			return ""
		}
		return filepath.Join(append([]string{base}, elem...)...)
	}
	cwd := env.Cwd
	if cwd == "" {
		cwd = "."
	}
	add(cwd, TopLevel, "here")
	add(CacheDir(env), Folder, "nexusquant")
	switch {
	case env.get("HF_HUB_CACHE") != "":
		add(env.get("HF_HUB_CACHE"), HFHub, "huggingface")
	case env.get("HF_HOME") != "":
		add(filepath.Join(env.get("HF_HOME"), "hub"), HFHub, "huggingface")
	default:
		add(join(cache, "huggingface", "hub"), HFHub, "huggingface")
	}
	add(env.get("OLLAMA_MODELS"), Ollama, "ollama")
	add(join(home, ".ollama", "models"), Ollama, "ollama")
	add(env.SystemOllama, Ollama, "ollama")
	add(join(home, ".lmstudio", "models"), Folder, "lmstudio")
	add(join(cache, "lm-studio", "models"), Folder, "lmstudio")
	if lc := env.get("LLAMA_CACHE"); lc != "" {
		add(lc, Folder, "llama.cpp")
	} else {
		add(join(cache, "llama.cpp"), Folder, "llama.cpp")
	}
	return d
}

// maxDepth bounds the recursive search of a Folder.
const maxDepth = 8

// finder accumulates the results of one Find.
type finder struct {
	found []Found
	infos []os.FileInfo // of found[i], to recognise the same file reached twice
	errs  []error
}

// Find searches dirs in order and describes every GGUF file it finds (a
// .gguf name, or an ollama model blob). A file reached twice (through
// symlinks, hard links or the same blob under two tags) is reported once, by
// the first place that reaches it. Folders that do not exist are skipped;
// folders and manifests that cannot be read are returned as errors, and the
// search goes on. Files whose header cannot be read are reported with Err.
func Find(dirs Dirs) ([]Found, []error) {
	f := &finder{}
	for _, d := range dirs {
		if _, err := os.Stat(d.Path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.errs = append(f.errs, err)
			}
			continue
		}
		switch d.Kind {
		case TopLevel:
			f.topLevel(d)
		case Folder:
			f.folder(d)
		case HFHub:
			f.hub(d)
		case Ollama:
			f.ollama(d)
		default:
			f.errs = append(f.errs, fmt.Errorf("modelfind: %s: unknown kind %d", d.Path, d.Kind))
		}
	}
	return f.found, f.errs
}

// isGGUFName reports whether name looks like a GGUF file worth describing:
// a .gguf suffix, not hidden (temporary files are).
func isGGUFName(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ".gguf") && !strings.HasPrefix(name, ".")
}

// add describes the file at path unless it was found already.
func (f *finder) add(path, source, name string) {
	st, err := os.Stat(path) // follows symlinks
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // a dangling symlink is no model
			f.errs = append(f.errs, err)
		}
		return
	}
	if !st.Mode().IsRegular() {
		return
	}
	for _, seen := range f.infos {
		if os.SameFile(seen, st) {
			return
		}
	}
	m := Found{Path: path, Source: source, Name: name, Bytes: st.Size()}
	if sh, err := engine.ReadShape(path); err != nil {
		m.Err = err.Error()
	} else {
		m.Shape = sh
	}
	f.found = append(f.found, m)
	f.infos = append(f.infos, st)
}

func (f *finder) topLevel(d Dir) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		f.errs = append(f.errs, err)
		return
	}
	for _, e := range entries { // ReadDir sorts by name
		if isGGUFName(e.Name()) && !e.IsDir() {
			f.add(filepath.Join(d.Path, e.Name()), d.Source, e.Name())
		}
	}
}

func (f *finder) folder(d Dir) {
	err := filepath.WalkDir(d.Path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path != d.Path {
				f.errs = append(f.errs, err)
			}
			return nil
		}
		rel, _ := filepath.Rel(d.Path, path)
		if e.IsDir() {
			if path == d.Path {
				return nil
			}
			if strings.HasPrefix(e.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= maxDepth {
				return filepath.SkipDir
			}
			if owner, repo, ok := hubRepo(e.Name()); ok {
				f.hubRepo(path, owner, repo, d.Source)
				return filepath.SkipDir
			}
			return nil
		}
		if isGGUFName(e.Name()) {
			f.add(path, d.Source, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		f.errs = append(f.errs, err)
	}
}

// hubRepo splits a hub cache folder name models--OWNER--REPO.
func hubRepo(name string) (owner, repo string, ok bool) {
	rest, ok := strings.CutPrefix(name, "models--")
	if !ok {
		return "", "", false
	}
	owner, repo, ok = strings.Cut(rest, "--")
	return owner, repo, ok && owner != "" && repo != ""
}

func (f *finder) hub(d Dir) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		f.errs = append(f.errs, err)
		return
	}
	for _, e := range entries {
		if owner, repo, ok := hubRepo(e.Name()); ok && e.IsDir() {
			f.hubRepo(filepath.Join(d.Path, e.Name()), owner, repo, d.Source)
		}
	}
}

// hubRepo adds the GGUF files of every snapshot of one hub repo folder. The
// snapshot's files are symlinks into blobs/; the same blob in several
// snapshots is reported once.
func (f *finder) hubRepo(dir, owner, repo, source string) {
	snaps := filepath.Join(dir, "snapshots")
	entries, err := os.ReadDir(snaps)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.errs = append(f.errs, err)
		}
		return
	}
	for _, s := range entries {
		if !s.IsDir() {
			continue
		}
		root := filepath.Join(snaps, s.Name())
		filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				f.errs = append(f.errs, err)
				return nil
			}
			if e.IsDir() {
				if path != root && strings.HasPrefix(e.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if isGGUFName(e.Name()) {
				rel, _ := filepath.Rel(root, path)
				f.add(path, source, owner+"/"+repo+" · "+filepath.ToSlash(rel))
			}
			return nil
		})
	}
}

// manifest is the part of an ollama manifest that names the model blob.
type manifest struct {
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"layers"`
}

const ollamaModelType = "application/vnd.ollama.image.model"

var digestRE = regexp.MustCompile(`^sha256[:-]([0-9a-f]{64})$`)

func (f *finder) ollama(d Dir) {
	root := filepath.Join(d.Path, "manifests")
	type tagged struct{ name, blob string }
	var models []tagged
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.errs = append(f.errs, err)
			}
			return nil
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 { // HOST/NAMESPACE/NAME/TAG
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.errs = append(f.errs, err)
			return nil
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			f.errs = append(f.errs, fmt.Errorf("modelfind: ollama manifest %s: %w", path, err))
			return nil
		}
		for _, l := range m.Layers {
			if l.MediaType != ollamaModelType {
				continue
			}
			sub := digestRE.FindStringSubmatch(l.Digest)
			if sub == nil {
				f.errs = append(f.errs, fmt.Errorf("modelfind: ollama manifest %s: model digest %q is not sha256:HEX", path, l.Digest))
				break
			}
			models = append(models, tagged{ollamaName(parts), filepath.Join(d.Path, "blobs", "sha256-"+sub[1])})
			break
		}
		return nil
	})
	if err != nil {
		f.errs = append(f.errs, err)
	}
	sort.SliceStable(models, func(i, j int) bool { return models[i].name < models[j].name })
	for _, m := range models {
		f.add(m.blob, d.Source, m.name)
	}
}

// ollamaName names a manifest HOST/NAMESPACE/NAME/TAG as ollama does:
// NAME:TAG for the library, NAMESPACE/NAME:TAG elsewhere on ollama's
// registry, HOST/NAMESPACE/NAME:TAG on other hosts.
func ollamaName(p []string) string {
	switch {
	case p[0] == "registry.ollama.ai" && p[1] == "library":
		return p[2] + ":" + p[3]
	case p[0] == "registry.ollama.ai":
		return p[1] + "/" + p[2] + ":" + p[3]
	}
	return p[0] + "/" + p[1] + "/" + p[2] + ":" + p[3]
}
