// Package modelpull downloads GGUF files from the Hugging Face hub (or any
// https URL) into one folder, as `nexusquant pull` does:
//
//   - a reference is OWNER/REPO[:QUANT] (the repo's .gguf file whose name
//     contains QUANT, from the hub's file listing), OWNER/REPO/PATH.gguf, or
//     an https URL;
//   - the download goes to NAME.part and resumes from it (an HTTP Range
//     request) after a cut connection, in the same Pull or the next one;
//   - the size and sha256 the hub publishes (the listing's lfs oid, the
//     resolve URL's X-Linked-Size and X-Linked-Etag or ETag) are checked
//     before NAME.part is renamed to NAME; a file that fails is removed;
//   - only https is used, except plain http to loopback (127.0.0.0/8, ::1,
//     localhost), redirects included;
//   - nothing is written outside the folder: the file's name is the base
//     name of the remote path, and a name that is empty, hidden, "..", or
//     holds a separator is refused.
package modelpull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face hub.
const DefaultEndpoint = "https://huggingface.co"

// Client downloads models. The zero value works (the public hub, no token).
type Client struct {
	Endpoint string       // the hub, "" → DefaultEndpoint ($HF_ENDPOINT)
	Token    string       // sent as Authorization: Bearer to the hub only ($HF_TOKEN)
	HTTP     *http.Client // nil → http.DefaultClient's transport
	// Progress, when set, is called as bytes arrive with the bytes the file
	// holds so far and its total size (0 when unknown).
	Progress func(done, total int64)
	// Attempts is how many times one Pull requests the file before giving
	// up on cut connections (0 → 4); RetryDelay the pause between them
	// (0 → 1 s).
	Attempts   int
	RetryDelay time.Duration
}

// FromEnv is a Client configured by HF_ENDPOINT and HF_TOKEN.
func FromEnv(getenv func(string) string) *Client {
	return &Client{Endpoint: getenv("HF_ENDPOINT"), Token: getenv("HF_TOKEN")}
}

// Result is what Pull did.
type Result struct {
	Path    string // the file in the folder
	URL     string // where it came from
	Bytes   int64  // its size
	SHA256  string // its sha256 (hex) when it was downloaded now; "" when it was there already
	Checked bool   // the sha256 matched a published one
	Resumed bool   // part of it came from an earlier, interrupted download
	Existed bool   // it was there already with the published size; nothing was downloaded
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

// target is one file to download with what is known of it.
type target struct {
	url, name string
	size      int64  // 0 when unknown
	sha       string // hex, "" when unknown
}

var (
	segRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	hex64  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	errRef = errors.New("a model is OWNER/REPO[:QUANT], OWNER/REPO/FILE.gguf or an https URL")
)

// Pull downloads ref into dir (created if needed) and returns where it went.
func (c *Client) Pull(ctx context.Context, ref, dir string) (*Result, error) {
	t, err := c.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return c.download(ctx, t, dir)
}

// Resolve returns the URL and the local file name that ref stands for
// (listing the repo's files for OWNER/REPO[:QUANT]).
func (c *Client) Resolve(ctx context.Context, ref string) (rawURL, name string, err error) {
	t, err := c.resolve(ctx, ref)
	if err != nil {
		return "", "", err
	}
	return t.url, t.name, nil
}

func (c *Client) resolve(ctx context.Context, ref string) (target, error) {
	if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		u, err := url.Parse(ref)
		if err != nil {
			return target{}, fmt.Errorf("pull: %w", err)
		}
		if err := Allowed(u); err != nil {
			return target{}, err
		}
		esc := u.EscapedPath()
		last, err := url.PathUnescape(esc[strings.LastIndex(esc, "/")+1:])
		if err != nil {
			return target{}, fmt.Errorf("pull: %s: %w", ref, err)
		}
		if err := SafeName(last); err != nil {
			return target{}, err
		}
		return target{url: u.String(), name: last}, nil
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return target{}, fmt.Errorf("pull: %q: %w", ref, errRef)
	}
	owner, repo := parts[0], parts[1]
	quant := ""
	if len(parts) == 2 {
		repo, quant, _ = strings.Cut(repo, ":")
	}
	for _, s := range []string{owner, repo} {
		if !segRE.MatchString(s) || strings.Contains(s, "..") {
			return target{}, fmt.Errorf("pull: %q: %q is not a valid owner or repo name (%w)", ref, s, errRef)
		}
	}
	if len(parts) > 2 {
		t := target{}
		if err := c.fileTarget(&t, owner, repo, strings.Join(parts[2:], "/")); err != nil {
			return target{}, err
		}
		return t, nil
	}
	return c.pick(ctx, owner, repo, quant)
}

// fileTarget fills t for the file path of a hub repo.
func (c *Client) fileTarget(t *target, owner, repo, path string) error {
	segs := strings.Split(path, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `\`+"\x00") {
			return fmt.Errorf("pull: refusing the file path %q of %s/%s (empty, . or .. parts, or a backslash)", path, owner, repo)
		}
	}
	name := segs[len(segs)-1]
	if err := SafeName(name); err != nil {
		return err
	}
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	t.url = c.endpoint() + "/" + owner + "/" + repo + "/resolve/main/" + strings.Join(esc, "/")
	t.name = name
	return nil
}

// SafeName checks a file name taken from a remote: it must be a plain,
// visible .gguf name in the folder.
func SafeName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("pull: refusing the file name %q", name)
	case strings.ContainsAny(name, `/\`+"\x00") || strings.Contains(name, ".."):
		return fmt.Errorf("pull: refusing the file name %q: it holds a path separator or \"..\" (a parent folder)", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("pull: refusing the hidden file name %q", name)
	case !strings.HasSuffix(strings.ToLower(name), ".gguf"):
		return fmt.Errorf("pull: %q is not a .gguf file", name)
	}
	return nil
}

// Allowed accepts https URLs, and http ones to loopback only.
func Allowed(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return nil
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("pull: refusing plain http to %s (https only, or http to 127.0.0.0/8, ::1, localhost)", u.Host)
	}
	return fmt.Errorf("pull: refusing the URL scheme %q of %s", u.Scheme, u.Redacted())
}

// entry is one item of the hub's tree listing.
type entry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	LFS  *struct {
		Oid  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// pick lists the repo's files and chooses the .gguf whose name contains quant.
func (c *Client) pick(ctx context.Context, owner, repo, quant string) (target, error) {
	next := c.endpoint() + "/api/models/" + owner + "/" + repo + "/tree/main?recursive=true"
	var files []entry
	for page := 0; next != "" && page < 100; page++ {
		resp, err := c.get(ctx, next, nil, true)
		if err != nil {
			return target{}, err
		}
		var es []entry
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&es)
		resp.Body.Close()
		if err != nil {
			return target{}, fmt.Errorf("pull: the file list of %s/%s (%s): %w", owner, repo, next, err)
		}
		for _, e := range es {
			if e.Type == "file" && strings.HasSuffix(strings.ToLower(e.Path), ".gguf") {
				files = append(files, e)
			}
		}
		next = nextLink(resp.Header.Get("Link"), resp.Request.URL)
	}
	var match []entry
	for _, e := range files {
		base := e.Path[strings.LastIndex(e.Path, "/")+1:]
		if strings.Contains(strings.ToLower(base), strings.ToLower(quant)) {
			match = append(match, e)
		}
	}
	names := func(es []entry) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Path)
		}
		return strings.Join(s, ", ")
	}
	switch {
	case len(files) == 0:
		return target{}, fmt.Errorf("pull: %s/%s has no .gguf file", owner, repo)
	case len(match) == 0:
		return target{}, fmt.Errorf("pull: no .gguf file of %s/%s matches %q; it has: %s", owner, repo, quant, names(files))
	case len(match) > 1 && quant == "":
		return target{}, fmt.Errorf("pull: %s/%s has several .gguf files, name one as %s/%s:QUANT or %s/%s/FILE: %s", owner, repo, owner, repo, owner, repo, names(match))
	case len(match) > 1:
		return target{}, fmt.Errorf("pull: several .gguf files of %s/%s match %q, give more of the name: %s", owner, repo, quant, names(match))
	}
	e := match[0]
	t := target{size: e.Size}
	if e.LFS != nil {
		t.size = e.LFS.Size
		if hex64.MatchString(e.LFS.Oid) {
			t.sha = e.LFS.Oid
		}
	}
	if err := c.fileTarget(&t, owner, repo, e.Path); err != nil {
		return target{}, err
	}
	return t, nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// nextLink is the rel="next" URL of a Link header, resolved against base.
func nextLink(h string, base *url.URL) string {
	m := linkRE.FindStringSubmatch(h)
	if m == nil {
		return ""
	}
	u, err := base.Parse(m[1])
	if err != nil {
		return ""
	}
	return u.String()
}

// client is c.HTTP with redirects checked by Allowed (or not followed).
func (c *Client) client(follow bool) *http.Client {
	hc := &http.Client{}
	if c.HTTP != nil {
		*hc = *c.HTTP
	}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("pull: too many redirects")
		}
		return Allowed(req.URL)
	}
	return hc
}

// request builds a request, with the token when it goes to the hub.
func (c *Client) request(ctx context.Context, method, rawURL string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if err := Allowed(req.URL); err != nil {
		return nil, err
	}
	if c.Token != "" {
		if hub, err := url.Parse(c.endpoint()); err == nil && hub.Host == req.URL.Host {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
	}
	req.Header.Set("User-Agent", "nexusquant")
	return req, nil
}

// get GETs rawURL with extra headers; statuses other than 2xx are errors
// naming the URL.
func (c *Client) get(ctx context.Context, rawURL string, hdr http.Header, ok2xx bool) (*http.Response, error) {
	req, err := c.request(ctx, http.MethodGet, rawURL)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.client(true).Do(req)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if ok2xx && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		resp.Body.Close()
		return nil, statusError(rawURL, resp)
	}
	return resp, nil
}

func statusError(rawURL string, resp *http.Response) error {
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (a gated or private repo needs HF_TOKEN)"
	case http.StatusNotFound:
		hint = " (check the owner, repo and file name)"
	}
	return fmt.Errorf("pull: %s: %s%s", rawURL, resp.Status, hint)
}

// meta asks the resolve URL for the published size and sha256 without
// following its redirect to the storage (whose headers are not the hub's).
func (c *Client) meta(ctx context.Context, t *target) error {
	cur := t.url
	hub, _ := url.Parse(c.endpoint())
	for hop := 0; hop < 10; hop++ {
		req, err := c.request(ctx, http.MethodHead, cur)
		if err != nil {
			return err
		}
		resp, err := c.client(false).Do(req)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		resp.Body.Close()
		h := resp.Header
		linked := h.Get("X-Linked-Etag") != "" || h.Get("X-Linked-Size") != ""
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && !linked:
			loc, err := resp.Request.URL.Parse(h.Get("Location"))
			if err != nil || h.Get("Location") == "" {
				return fmt.Errorf("pull: %s: a redirect without a usable Location", cur)
			}
			if err := Allowed(loc); err != nil {
				return err
			}
			cur = loc.String()
			continue
		case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
			return nil // no HEAD: only the listing's figures, if any
		case resp.StatusCode >= 400:
			return statusError(cur, resp)
		}
		if s := h.Get("X-Linked-Size"); s != "" {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && t.size == 0 {
				t.size = n
			}
		} else if resp.StatusCode == http.StatusOK && resp.ContentLength > 0 && t.size == 0 {
			t.size = resp.ContentLength
		}
		etag := h.Get("X-Linked-Etag")
		if etag == "" && hub != nil && resp.Request.URL.Host == hub.Host {
			etag = h.Get("ETag")
		}
		etag = strings.ToLower(strings.Trim(strings.TrimPrefix(etag, "W/"), `"`))
		if hex64.MatchString(etag) && t.sha == "" {
			t.sha = etag
		}
		return nil
	}
	return fmt.Errorf("pull: %s: too many redirects", t.url)
}

func (c *Client) download(ctx context.Context, t target, dir string) (*Result, error) {
	if err := SafeName(t.name); err != nil {
		return nil, err
	}
	if err := c.meta(ctx, &t); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	final := filepath.Join(dir, t.name)
	part := final + ".part"
	res := &Result{Path: final, URL: t.url}
	if st, err := os.Stat(final); err == nil && st.Mode().IsRegular() && (t.size == 0 || st.Size() == t.size) {
		res.Bytes, res.Existed = st.Size(), true
		return res, nil
	}
	f, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	attempts, delay := c.Attempts, c.RetryDelay
	if attempts <= 0 {
		attempts = 4
	}
	if delay <= 0 {
		delay = time.Second
	}
	var have int64
	for try := 1; ; try++ {
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("pull: %w", err)
		}
		have = st.Size()
		if t.size > 0 && have > t.size {
			have = 0
		}
		if t.size > 0 && have == t.size {
			break
		}
		if have > 0 {
			res.Resumed = true
		}
		done, err := c.fetch(ctx, f, t, have)
		if err == nil {
			break
		}
		var fatal fatalError
		if errors.As(err, &fatal) || ctx.Err() != nil || try >= attempts {
			if errors.As(err, &fatal) {
				return nil, fatal.err
			}
			return nil, fmt.Errorf("pull: the download of %s stopped at %d of %s bytes: %w (run it again to resume)", t.url, done, sizeText(t.size), err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
	// Verify the whole file.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("pull: reading %s: %w", part, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	fail := func(format string, args ...any) (*Result, error) {
		f.Close()
		f = nil
		os.Remove(part)
		return nil, fmt.Errorf("pull: "+format+"; the download was removed", args...)
	}
	if t.size > 0 && n != t.size {
		return fail("%s: got %d bytes, the hub says %d", t.url, n, t.size)
	}
	if t.sha != "" && sum != t.sha {
		return fail("%s: sha256 mismatch: got %s, the hub publishes %s", t.url, sum, t.sha)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return nil, fmt.Errorf("pull: %w", err)
	}
	f = nil
	if err := os.Rename(part, final); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	res.Bytes, res.SHA256, res.Checked = n, sum, t.sha != ""
	return res, nil
}

// fatalError is a download error that retrying cannot fix.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// fetch appends the file from byte have on (the whole file when the server
// ignores the range) and returns the bytes f holds at the end.
func (c *Client) fetch(ctx context.Context, f *os.File, t target, have int64) (int64, error) {
	var hdr http.Header
	if have > 0 {
		hdr = http.Header{"Range": {fmt.Sprintf("bytes=%d-", have)}}
	}
	resp, err := c.get(ctx, t.url, hdr, false)
	if err != nil {
		return have, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var start int64 = -1
		fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start)
		if start != have {
			return have, fatalError{fmt.Errorf("pull: %s: asked for bytes from %d, got Content-Range %q", t.url, have, resp.Header.Get("Content-Range"))}
		}
	case resp.StatusCode == http.StatusOK:
		have = 0 // the whole file
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part is at least as long as the file: restart it.
		if err := f.Truncate(0); err != nil {
			return 0, fatalError{fmt.Errorf("pull: %w", err)}
		}
		return 0, errors.New(resp.Status)
	default:
		return have, fatalError{statusError(t.url, resp)}
	}
	if err := f.Truncate(have); err != nil {
		return have, fatalError{fmt.Errorf("pull: %w", err)}
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return have, fatalError{fmt.Errorf("pull: %w", err)}
	}
	total := t.size
	if total == 0 && resp.ContentLength > 0 {
		total = have + resp.ContentLength
	}
	w := &progressWriter{w: f, done: have, total: total, fn: c.Progress}
	w.report()
	_, err = io.Copy(w, resp.Body)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) { // a write to the file failed
			return w.done, fatalError{fmt.Errorf("pull: %w", err)}
		}
	}
	return w.done, err
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report()
	return n, err
}

func (p *progressWriter) report() {
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

func sizeText(n int64) string {
	if n == 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}
