// Package testfiles locates the shared test data (models/, reference/, …)
// that tests read, in this order:
//
//   - the folder named by the NEXUSQUANT_TESTDATA environment variable, for
//     example NEXUSQUANT_TESTDATA=/work/shared. A relative value is taken
//     relative to the module root (the nearest folder above the working
//     directory holding go.mod), not to the package folder that go test runs
//     each test binary in, so NEXUSQUANT_TESTDATA=../shared means the same
//     folder for every package;
//   - when the variable is unset, the folder "shared" beside the module root
//     (<module root>/../shared, where CI puts it next to the clone), if it
//     holds models/stories260K.gguf.
//
// When neither is found, tests that need the data are skipped with a reason,
// except in CI (the CI environment variable set to anything), where a missing
// data folder fails the test instead of silently skipping it. A variable that
// is set but points at a missing folder or file always fails.
package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable holding the test data folder.
const EnvVar = "NEXUSQUANT_TESTDATA"

// CIEnvVar names the environment variable that marks a CI run.
const CIEnvVar = "CI"

// Sibling is where the test data is looked for, relative to the module root,
// when EnvVar is unset.
const Sibling = "../shared"

// Marker is the file (relative to the data folder) whose presence makes a
// Sibling folder count as the shared test data.
const Marker = "models/stories260K.gguf"

// Lookup returns the test data folder and true when EnvVar names one (made
// absolute as the package doc says, but not checked) or a Sibling folder with
// the Marker file exists; it never fails or skips, for tests that use the data
// only when it is there (fuzz seeds, say).
func Lookup() (string, bool) {
	wd, err := os.Getwd()
	if err != nil {
		wd = ""
	}
	dir, _, ok := resolve(os.Getenv(EnvVar), wd)
	return dir, ok
}

// resolve finds the data folder for the value env of EnvVar and the working
// directory wd. It returns the folder, a description of where it came from
// (for messages) and whether one was named or found. A relative env is joined
// to the module root above wd, or to wd when there is none.
func resolve(env, wd string) (dir, from string, ok bool) {
	root := moduleRoot(wd)
	if env != "" {
		if filepath.IsAbs(env) {
			return filepath.Clean(env), EnvVar + "=" + env, true
		}
		base := root
		if base == "" {
			base = wd
		}
		dir = filepath.Join(base, env)
		return dir, EnvVar + "=" + env + " (relative to " + base + ")", true
	}
	if root == "" {
		return "", "", false
	}
	dir = filepath.Join(root, filepath.FromSlash(Sibling))
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(Marker))); err != nil || !st.Mode().IsRegular() {
		return "", "", false
	}
	return dir, dir + " (beside the module, " + EnvVar + " unset)", true
}

// moduleRoot is the nearest folder at or above dir that holds go.mod, or ""
// when there is none (or dir is "").
func moduleRoot(dir string) string {
	if dir == "" {
		return ""
	}
	dir = filepath.Clean(dir)
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && st.Mode().IsRegular() {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// Dir returns the test data folder, skipping the test (or failing it under
// CI) when EnvVar is unset and there is no Sibling folder.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("test data: working directory: %v", err)
	}
	dir, from, ok := resolve(os.Getenv(EnvVar), wd)
	if !ok {
		if os.Getenv(CIEnvVar) != "" {
			t.Fatalf("%s is not set and there is no %s beside the module, but %s is: the shared test data is required in CI (e.g. %s=/work/shared)", EnvVar, Sibling, CIEnvVar, EnvVar)
		}
		t.Skipf("needs the shared test data: set %s to its folder (e.g. %s=/work/shared) or put it at %s beside the module", EnvVar, EnvVar, Sibling)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("test data from %s: %v", from, err)
	}
	if !st.IsDir() {
		t.Fatalf("test data from %s: %s is not a directory", from, dir)
	}
	return dir
}

// Path returns the absolute path of rel (slash-separated, relative to the
// test data folder, e.g. "models/syn-llama.f16.gguf"), skipping like Dir when
// the folder is not configured and failing the test when the file is missing.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data %s: %v", rel, err)
	}
	return p
}
