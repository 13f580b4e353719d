package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

// assets are the embedded static files with a content hash each, so that
// the page links them as ".../static/dashboard.js?v=<hash>": a new build
// changes the URL, and the browser may cache a URL forever.
type assets struct {
	files map[string]asset
}

type asset struct {
	body []byte
	hash string
	typ  string
}

func newAssets(fsys fs.FS) *assets {
	a := &assets{files: map[string]asset{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		typ := mime.TypeByExtension(path.Ext(e.Name()))
		if typ == "" {
			typ = "application/octet-stream"
		}
		a.files[e.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:8]), typ: typ}
	}
	return a
}

// url returns the versioned URL of an asset (for the templates).
func (a *assets) url(name string) string {
	return BasePath + "/static/" + name + "?v=" + a.files[name].hash
}

// static serves one embedded asset. The versioned URL is cached for a year;
// any other is revalidated by ETag.
func (d *Dashboard) static(w http.ResponseWriter, r *http.Request) error {
	f, ok := d.assets.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+f.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	_, _ = w.Write(f.body)
	return nil
}
