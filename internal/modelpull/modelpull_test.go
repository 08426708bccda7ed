package modelpull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nexusquant/internal/demo"
)

// hub emulates the Hugging Face endpoints the client uses: the tree listing,
// the resolve URL (a 302 to storage with X-Linked-Etag and X-Linked-Size),
// and the storage, which serves ranges.
type hub struct {
	t     *testing.T
	files map[string][]byte // repo path → bytes, for ggml-org/models
	sha   map[string]string // published sha256 overrides
	cut   int               // the number of storage GETs to cut mid-body
	token string            // required on the hub's URLs when set

	mu       sync.Mutex
	requests []string // "METHOD path range"
}

func (h *hub) log(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.log(r)
	const repo = "/ggml-org/models/resolve/main/"
	switch {
	case r.URL.Path == "/api/models/ggml-org/models/tree/main":
		if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var list []map[string]any
		list = append(list, map[string]any{"type": "directory", "path": "tinyllamas", "size": 0})
		list = append(list, map[string]any{"type": "file", "path": "README.md", "size": 10})
		for p, b := range h.files {
			sum := sha256.Sum256(b)
			list = append(list, map[string]any{"type": "file", "path": p, "size": len(b),
				"lfs": map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(b)}})
		}
		json.NewEncoder(w).Encode(list)
	case strings.HasPrefix(r.URL.Path, repo):
		if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, repo)
		b, ok := h.files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(b)
		etag := hex.EncodeToString(sum[:])
		if s, ok := h.sha[p]; ok {
			etag = s
		}
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(b)))
		// Storage is another host (localhost, not 127.0.0.1), as the hub's CDN is.
		w.Header().Set("Location", "http://localhost:"+port(r.Host)+"/storage/"+url.PathEscape(p))
		w.WriteHeader(http.StatusFound)
	case strings.HasPrefix(r.URL.Path, "/storage/"):
		if r.Header.Get("Authorization") != "" {
			h.t.Errorf("the token went to storage")
		}
		p := strings.TrimPrefix(r.URL.Path, "/storage/")
		b := h.files[p]
		h.mu.Lock()
		cut := h.cut > 0 && r.Method == http.MethodGet
		if cut {
			h.cut--
		}
		h.mu.Unlock()
		if cut {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.WriteHeader(http.StatusOK)
			w.Write(b[:len(b)/3])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				h.t.Error(err)
				return
			}
			conn.Close()
			return
		}
		http.ServeContent(w, r, p, time.Time{}, strings.NewReader(string(b)))
	default:
		http.NotFound(w, r)
	}
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func storiesBytes(t *testing.T) []byte {
	d, err := demo.Get("stories")
	if err != nil {
		t.Fatal(err)
	}
	return d.ModelBytes()
}

func newHub(t *testing.T, files map[string][]byte) (*hub, *Client) {
	h := &hub{t: t, files: files, sha: map[string]string{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, &Client{Endpoint: srv.URL, HTTP: srv.Client(), RetryDelay: time.Millisecond}
}

func TestPullResumesCutConnection(t *testing.T) {
	b := storiesBytes(t)
	h, c := newHub(t, map[string][]byte{"tinyllamas/stories260K.gguf": b})
	h.cut, h.token, c.Token = 1, "secret", "secret"
	var last, total int64
	c.Progress = func(d, tot int64) { last, total = d, tot }
	dir := t.TempDir()
	res, err := c.Pull(context.Background(), "ggml-org/models/tinyllamas/stories260K.gguf", dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "stories260K.gguf"))
	if err != nil || string(got) != string(b) {
		t.Fatalf("file differs from the served bytes (%v)", err)
	}
	if !res.Resumed || !res.Checked || res.Bytes != int64(len(b)) || res.Path != filepath.Join(dir, "stories260K.gguf") {
		t.Errorf("result %+v", res)
	}
	if last != int64(len(b)) || total != int64(len(b)) {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	want := "GET /storage/tinyllamas/stories260K.gguf bytes=" + fmt.Sprint(len(b)/3) + "-"
	h.mu.Lock()
	reqs := strings.Join(h.requests, "\n")
	h.mu.Unlock()
	if !strings.Contains(reqs, want) {
		t.Errorf("no range request %q in:\n%s", want, reqs)
	}
	if _, err := os.Stat(filepath.Join(dir, "stories260K.gguf.part")); !os.IsNotExist(err) {
		t.Errorf(".part left behind: %v", err)
	}
	// A second pull finds it there.
	res, err = c.Pull(context.Background(), "ggml-org/models:stories260K", dir)
	if err != nil || !res.Existed {
		t.Errorf("second pull: %+v, %v", res, err)
	}
}

func TestPullResumesNextRun(t *testing.T) {
	b := storiesBytes(t)
	h, c := newHub(t, map[string][]byte{"tinyllamas/stories260K.gguf": b})
	h.cut, c.Attempts = 1, 1
	dir := t.TempDir()
	_, err := c.Pull(context.Background(), "ggml-org/models:260K", dir)
	if err == nil || !strings.Contains(err.Error(), "run it again to resume") {
		t.Fatalf("err = %v, want an interrupted download", err)
	}
	st, err := os.Stat(filepath.Join(dir, "stories260K.gguf.part"))
	if err != nil || st.Size() != int64(len(b)/3) {
		t.Fatalf(".part: %v, %v", st, err)
	}
	res, err := c.Pull(context.Background(), "ggml-org/models:260K", dir)
	if err != nil || !res.Resumed || !res.Checked {
		t.Fatalf("resume: %+v, %v", res, err)
	}
}

func TestPullWrongChecksum(t *testing.T) {
	b := storiesBytes(t)
	h, c := newHub(t, map[string][]byte{"stories260K.gguf": b})
	h.sha["stories260K.gguf"] = strings.Repeat("ab", 32)
	dir := t.TempDir()
	_, err := c.Pull(context.Background(), "ggml-org/models/stories260K.gguf", dir)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), strings.Repeat("ab", 32)) {
		t.Fatalf("err = %v, want a sha256 mismatch naming the published sum", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the folder: %v", entries)
	}
}

func TestPullRefusesTraversal(t *testing.T) {
	b := storiesBytes(t)
	_, c := newHub(t, map[string][]byte{"../../evil.gguf": b, `..\evil-q8.gguf`: b, ".hidden-q4.gguf": b})
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	for _, ref := range []string{
		"ggml-org/models:evil.gguf", // the listing's ../../evil.gguf
		"ggml-org/models:q8",        // ..\evil-q8.gguf
		"ggml-org/models:q4",        // .hidden-q4.gguf
		"ggml-org/models/../../evil.gguf",
		"ggml-org/models/a/..%2F..%2Fevil.gguf",
		c.Endpoint + "/ggml-org/models/resolve/main/..%2F..%2Fevil.gguf",
		"../models/evil.gguf",
	} {
		_, err := c.Pull(context.Background(), ref, dir)
		t.Logf("%s: %v", ref, err)
		if err == nil || !strings.Contains(err.Error(), "refusing") && !strings.Contains(err.Error(), "not a valid") {
			t.Errorf("%s: err = %v, want a refusal", ref, err)
		}
	}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("written: %s", p)
		}
		return nil
	})
}

func TestPull404(t *testing.T) {
	_, c := newHub(t, map[string][]byte{})
	_, err := c.Pull(context.Background(), "ggml-org/models/missing.gguf", t.TempDir())
	want := c.Endpoint + "/ggml-org/models/resolve/main/missing.gguf: 404 Not Found"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestPullQuantSelection(t *testing.T) {
	b := storiesBytes(t)
	_, c := newHub(t, map[string][]byte{
		"m-Q4_K_M.gguf": b, "m-Q4_K_S.gguf": b, "sub/m-Q8_0.gguf": b,
	})
	ctx := context.Background()
	u, name, err := c.Resolve(ctx, "ggml-org/models:q8_0")
	if err != nil || name != "m-Q8_0.gguf" || u != c.Endpoint+"/ggml-org/models/resolve/main/sub/m-Q8_0.gguf" {
		t.Errorf("q8_0: %s %s %v", u, name, err)
	}
	_, _, err = c.Resolve(ctx, "ggml-org/models:Q4_K")
	if err == nil || !strings.Contains(err.Error(), "several") || !strings.Contains(err.Error(), "m-Q4_K_M.gguf") || !strings.Contains(err.Error(), "m-Q4_K_S.gguf") {
		t.Errorf("Q4_K: %v, want both candidates", err)
	}
	_, _, err = c.Resolve(ctx, "ggml-org/models:Q2_K")
	if err == nil || !strings.Contains(err.Error(), "no .gguf file") || !strings.Contains(err.Error(), "sub/m-Q8_0.gguf") {
		t.Errorf("Q2_K: %v, want the list of files", err)
	}
	_, _, err = c.Resolve(ctx, "ggml-org/models")
	if err == nil || !strings.Contains(err.Error(), "several") {
		t.Errorf("no quant: %v", err)
	}
	dir := t.TempDir()
	res, err := c.Pull(ctx, "ggml-org/models:Q4_K_M", dir)
	if err != nil || res.Path != filepath.Join(dir, "m-Q4_K_M.gguf") || !res.Checked {
		t.Errorf("pull Q4_K_M: %+v %v", res, err)
	}
}

func TestAllowed(t *testing.T) {
	for _, s := range []string{"https://huggingface.co/x", "http://127.0.0.1:8080/x", "http://127.9.9.9/x", "http://[::1]:80/x", "http://localhost/x"} {
		u, _ := url.Parse(s)
		if err := Allowed(u); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"http://huggingface.co/x", "http://10.0.0.1/x", "http://localhost.evil.com/x", "ftp://127.0.0.1/x", "file:///etc/passwd"} {
		u, _ := url.Parse(s)
		if err := Allowed(u); err == nil {
			t.Errorf("%s allowed", s)
		}
	}
	c := &Client{}
	if _, err := c.Pull(context.Background(), "http://example.com/m.gguf", t.TempDir()); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("plain http pull: %v", err)
	}
}

// A redirect from loopback to plain http elsewhere is refused.
func TestPullRefusesRedirectToPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/m.gguf", http.StatusFound)
	}))
	defer srv.Close()
	c := &Client{Endpoint: srv.URL, HTTP: srv.Client()}
	_, err := c.Pull(context.Background(), srv.URL+"/m.gguf", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("err = %v", err)
	}
}
