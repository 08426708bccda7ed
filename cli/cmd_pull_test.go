package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nexusquant/internal/demo"
	"nexusquant/internal/modelfind"
)

// pull downloads into the user's model folder, where models then finds it.
func TestPullThenModels(t *testing.T) {
	isolate(t)
	env := fakeHome(t)
	d, err := demo.Get("stories")
	if err != nil {
		t.Fatal(err)
	}
	b := d.ModelBytes()
	sum := sha256.Sum256(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/stories260K.gguf" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		http.ServeContent(w, r, "stories260K.gguf", time.Time{}, strings.NewReader(string(b)))
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")

	out, errOut, code := run(t, "pull", srv.URL+"/files/stories260K.gguf", "--json")
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, errOut)
	}
	var res pullJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(modelfind.CacheDir(env), "stories260K.gguf")
	if res.Path != want || !res.Checked || res.Bytes != int64(len(b)) {
		t.Errorf("pull result %+v, want the file at %s, checked", res, want)
	}
	out, _, _ = run(t, "pull", srv.URL+"/files/stories260K.gguf")
	if strings.TrimSpace(out) != want {
		t.Errorf("second pull printed %q", out)
	}
	out, _, _ = run(t, "models")
	if !strings.Contains(out, "\nstories260K.gguf ") || !strings.Contains(out, "nexusquant\n") {
		t.Errorf("models does not list the pulled file:\n%s", out)
	}

	_, errOut, code = run(t, "pull", srv.URL+"/files/missing.gguf")
	if code != 1 || !strings.Contains(errOut, srv.URL+"/files/missing.gguf: 404 Not Found") {
		t.Errorf("404: exit %d, %q", code, errOut)
	}
	if _, _, code = run(t, "pull"); code != 2 {
		t.Errorf("no model: exit %d, want 2", code)
	}
}
