package sandboxagent

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkPath resolves p as the sandbox sees it and answers 403 unless it lies
// under the roots; it returns the resolved sandbox path.
func (a *Agent) checkPath(w http.ResponseWriter, p string) (string, bool) {
	resolved := a.resolve(p)
	if resolved == "" || !allowed(resolved) {
		detail(w, http.StatusForbidden, accessDenied)
		return "", false
	}
	return resolved, true
}

// queryPath is the route's ?path=, or def; a required one that is missing is
// FastAPI's 422.
func queryPath(w http.ResponseWriter, r *http.Request, def string) (string, bool) {
	p := r.URL.Query().Get("path")
	if !r.URL.Query().Has("path") {
		if def == "" {
			unprocessable(w, "query", "path", "Field required", "missing")
			return "", false
		}
		p = def
	}
	return p, true
}

func (a *Agent) write(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Path     *string `json:"path"`
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Path == nil || req.Content == nil {
		field := "path"
		if req.Path != nil {
			field = "content"
		}
		unprocessable(w, "body", field, "Field required", "missing")
		return
	}
	p, ok := a.checkPath(w, *req.Path)
	if !ok {
		return
	}
	data := []byte(*req.Content)
	if req.Encoding == "base64" {
		dec, err := base64.StdEncoding.DecodeString(*req.Content)
		if err != nil {
			detail(w, http.StatusBadRequest, "Invalid base64 content")
			return
		}
		data = dec
	}
	dst := a.host(p)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, map[string]any{"success": true, "path": *req.Path})
}

// read answers a file: as JSON text (base64 when it is not UTF-8), or with
// raw set its bytes as they are (the download route).
func (a *Agent) read(w http.ResponseWriter, r *http.Request, raw bool) {
	q, ok := queryPath(w, r, "")
	if !ok {
		return
	}
	p, ok := a.checkPath(w, q)
	if !ok {
		return
	}
	st, err := os.Stat(a.host(p))
	switch {
	case err != nil:
		detail(w, http.StatusNotFound, "File not found: "+p)
		return
	case st.IsDir():
		detail(w, http.StatusBadRequest, "Path is a directory: "+p)
		return
	}
	data, err := os.ReadFile(a.host(p))
	if err != nil {
		detail(w, http.StatusNotFound, "File not found: "+p)
		return
	}
	if raw {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(p)))
		_, _ = w.Write(data)
		return
	}
	out := map[string]any{"path": p}
	if utf8.Valid(data) {
		// Text is read with newline translation, as Python's open() does.
		out["content"] = strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	} else {
		out["content"], out["encoding"] = base64.StdEncoding.EncodeToString(data), "base64"
	}
	writeJSON(w, out)
}

// FileEntry is one entry of GET /api/files.
type FileEntry struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	IsDir       bool   `json:"is_dir"`
	Size        *int64 `json:"size"` // null for a directory
	Permissions string `json:"permissions"`
}

// listFiles answers a directory's entries (?path=, /workspace by default),
// sorted by name.
func (a *Agent) listFiles(w http.ResponseWriter, r *http.Request) {
	q, _ := queryPath(w, r, DefaultCwd)
	p, ok := a.checkPath(w, q)
	if !ok {
		return
	}
	st, err := os.Stat(a.host(p))
	switch {
	case err != nil:
		detail(w, http.StatusNotFound, "Path not found: "+p)
		return
	case !st.IsDir():
		detail(w, http.StatusBadRequest, "Not a directory: "+p)
		return
	}
	entries, err := os.ReadDir(a.host(p))
	if err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	files := make([]FileEntry, 0, len(entries))
	for _, e := range entries {
		fi, err := os.Stat(a.host(a.resolve(path.Join(p, e.Name()))))
		if err != nil {
			// A dangling link: described as the link itself.
			if fi, err = e.Info(); err != nil {
				continue
			}
		}
		f := FileEntry{Name: e.Name(), Path: path.Join(p, e.Name()), IsDir: fi.IsDir(), Permissions: fmt.Sprintf("%03o", fi.Mode().Perm()&0o777)}
		if !f.IsDir {
			size := fi.Size()
			f.Size = &size
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(x, y FileEntry) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, map[string]any{"files": files})
}
