// Package testfiles locates the shared test data (models/, reference/, …) that
// tests read from the folder named by the NEXUSQUANT_TESTDATA environment
// variable, for example NEXUSQUANT_TESTDATA=/work/shared.
//
// When the variable is unset, tests that need the data are skipped with a
// reason, except in CI (the CI environment variable set to anything), where a
// missing data folder fails the test instead of silently skipping it. A
// variable that is set but points at a missing folder or file always fails.
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

// Dir returns the test data folder, skipping the test (or failing it under CI)
// when EnvVar is unset.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvVar)
	if dir == "" {
		if os.Getenv(CIEnvVar) != "" {
			t.Fatalf("%s is not set but %s is: the shared test data is required in CI (e.g. %s=/work/shared)", EnvVar, CIEnvVar, EnvVar)
		}
		t.Skipf("needs the shared test data: set %s to its folder (e.g. %s=/work/shared)", EnvVar, EnvVar)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("%s=%s: %v", EnvVar, dir, err)
	}
	if !st.IsDir() {
		t.Fatalf("%s=%s is not a directory", EnvVar, dir)
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
