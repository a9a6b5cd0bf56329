// Package webasset serves a page's embedded static files (scripts,
// stylesheets, license texts) and the page itself, as the admin console
// and the GraphQL playground need them.
//
// Every file is served under two names: its plain name, revalidated on
// each use, and a content-hashed name (app.js as app.<hash>.js) that a
// browser may keep for good, since the content under it never changes. A
// page links its files by the hashed names (see Set.URL). Files of 1 KiB
// or more are gzipped for clients that accept it, once, on the first such
// request. ETags make a repeated request answer 304. Only GET and HEAD are
// allowed; an unknown path is 404.
//
// Files are served from where they are: an embed.FS's bytes lie in the
// binary's read-only data, and a Set reads them there rather than copying
// them to the heap (the playground's bundles are 1.6 MB).
package webasset

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// gzipMinSize is the size from which a file is served gzipped; below it the
// saving is not worth a second ETag and the Vary header.
const gzipMinSize = 1024

// Set is a set of files served under one path prefix. It is an
// http.Handler for the paths under that prefix.
type Set struct {
	prefix string
	assets map[string]asset  // by the path after prefix, plain and hashed
	urls   map[string]string // plain name -> hashed URL
}

// asset is a file under one of its two names.
type asset struct {
	*file
	// immutable is set for the hashed name: the content under that name
	// never changes, so browsers may keep it for good. The plain name is
	// revalidated on each use; scripts that import each other (the
	// console's modules) name it.
	immutable bool
}

// file is one file of a Set.
type file struct {
	// body is the file's content: the FS's own file where it can be read
	// at an offset (an embed.FS's reads the binary's data in place), else
	// a copy.
	body        io.ReaderAt
	size        int64
	contentType string
	etag        string

	gzipOnce sync.Once
	gzipBody []byte
}

// New makes a Set of every file below dir in fsys (an embed.FS,
// typically), served under prefix: the file dir/a/b.js is at
// prefix+"a/b.js" and at its hashed name prefix+"a/b.<hash>.js". prefix is
// a path that ends in a slash, such as "/console/assets/". A file that can
// be read at an offset (io.ReaderAt, as an embed.FS's and an
// fstest.MapFS's can) stays open and is served from the FS; any other is
// read into memory.
func New(fsys fs.FS, dir, prefix string) (*Set, error) {
	s := &Set{prefix: prefix, assets: make(map[string]asset), urls: make(map[string]string)}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, size, err := open(fsys, p)
		if err != nil {
			return err
		}
		hash, err := contentHash(io.NewSectionReader(body, 0, size))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		name := strings.TrimPrefix(p, dir+"/")
		f := &file{body: body, size: size, contentType: contentType(name), etag: `"` + hash + `"`}
		s.assets[name] = asset{file: f}
		s.assets[hashedName(name, hash)] = asset{file: f, immutable: true}
		s.urls[name] = prefix + hashedName(name, hash)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// open returns the content of the file name in fsys and its size: the
// open file itself when it can be read at an offset, else a copy.
func open(fsys fs.FS, name string) (io.ReaderAt, int64, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if ra, ok := f.(io.ReaderAt); ok && fi.Mode().IsRegular() {
		return ra, fi.Size(), nil
	}
	defer f.Close()
	body, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", name, err)
	}
	return bytes.NewReader(body), int64(len(body)), nil
}

// URL returns the path of the named file (a plain name, relative to the
// prefix) under its hashed name, for a page to link it by; it is the
// "asset" function of the pages' templates.
func (s *Set) URL(name string) (string, error) {
	u, ok := s.urls[name]
	if !ok {
		return "", fmt.Errorf("no asset %s", name)
	}
	return u, nil
}

// ServeHTTP serves the file the full request path names; every other path
// is 404, and methods other than GET and HEAD are 405.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	a := s.assets[name]
	if !ok || a.file == nil {
		http.NotFound(w, r)
		return
	}
	if !MethodAllowed(w, r) {
		return
	}
	a.serve(w, r)
}

// MethodAllowed reports whether r is a GET or a HEAD, the methods a page
// and its files answer. Otherwise it has answered 405 with an Allow header.
func MethodAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// ServePage writes an HTML page under the Content-Security-Policy csp. The
// page is never stored (no-store: it is where an API key is typed, and it
// may carry a per-response nonce), sends no Referer, and opens no window
// that could reach it. The caller has checked the method (MethodAllowed).
func ServePage(w http.ResponseWriter, r *http.Request, csp string, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
}

func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	var body io.ReadSeeker = io.NewSectionReader(a.body, 0, a.size)
	etag := a.etag
	if a.size >= gzipMinSize {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body = bytes.NewReader(a.gzipped())
			etag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, body)
}

// gzipped compresses the file on first use and keeps the result: the
// playground's vendored bundles shrink to about a third.
func (f *file) gzipped() []byte {
	f.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		// Writes to a bytes.Buffer do not fail, and New has read the
		// file once already.
		io.Copy(zw, io.NewSectionReader(f.body, 0, f.size))
		zw.Close()
		f.gzipBody = buf.Bytes()
	})
	return f.gzipBody
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
		return !found || strings.TrimRight(strings.TrimSpace(q), "0.") != ""
	}
	return false
}

// contentHash is a short hex digest of body, for hashed names and ETags.
func contentHash(body io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// hashedName puts a content hash before the extension of name: app.js
// becomes app.<hash>.js, licenses/NOTICE becomes licenses/NOTICE.<hash>.
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// contentType is by extension, from a fixed table rather than the system's
// MIME database, so it does not depend on the machine.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // LICENSE files and notices
		return "text/plain; charset=utf-8"
	}
}
