package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ManifestError is a manifest that cannot be used: it names the file, the
// line and what is wrong.
type ManifestError struct {
	Path string
	Line int
	Msg  string
}

func (e *ManifestError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("manifest %s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("manifest %s: %s", e.Path, e.Msg)
}

// Bounds of a manifest.
const (
	maxManifest     = 64 << 20
	maxManifestRows = 1 << 20
)

// Columns of a manifest.
var manifestColumns = []string{"image", "case", "set", "hive", "member", "serial", "prefer"}

// ReadManifest reads a manifest: CSV with a header row, or JSON lines (one
// object per line), one row per image, with the columns image (required),
// case, set, hive, member, serial and prefer. Relative paths (image, hive)
// are relative to the manifest's directory. An unknown column is an error,
// so a misspelt one is not silently ignored.
func ReadManifest(path string) ([]Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifest {
		return nil, &ManifestError{Path: path, Msg: fmt.Sprintf("larger than %d bytes", maxManifest)}
	}
	return parseManifest(path, b)
}

// parseManifest parses the manifest b read from path.
func parseManifest(path string, b []byte) ([]Input, error) {
	dir := filepath.Dir(path)
	var err error
	var rows []map[string]string
	var lines []int
	if t := bytes.TrimLeft(b, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		rows, lines, err = jsonRows(path, b)
	} else {
		rows, lines, err = csvRows(path, b)
	}
	if err != nil {
		return nil, err
	}
	var out []Input
	for i, r := range rows {
		in, err := manifestRow(path, dir, lines[i], r)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	if len(out) == 0 {
		return nil, &ManifestError{Path: path, Msg: "no rows"}
	}
	return out, nil
}

func known(col string) bool {
	for _, c := range manifestColumns {
		if c == col {
			return true
		}
	}
	return false
}

func csvRows(path string, b []byte) ([]map[string]string, []int, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.FieldsPerRecord = 0
	r.Comment = '#'
	head, err := r.Read()
	if err != nil {
		return nil, nil, &ManifestError{Path: path, Line: 1, Msg: fmt.Sprintf("header: %v", err)}
	}
	for i, h := range head {
		head[i] = strings.ToLower(strings.TrimSpace(h))
		if !known(head[i]) {
			return nil, nil, &ManifestError{Path: path, Line: 1, Msg: fmt.Sprintf("unknown column %q (columns: %s)", h, strings.Join(manifestColumns, ", "))}
		}
	}
	var rows []map[string]string
	var lines []int
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, nil, &ManifestError{Path: path, Line: line, Msg: err.Error()}
		}
		line, _ := r.FieldPos(0)
		if len(rows) >= maxManifestRows {
			return nil, nil, &ManifestError{Path: path, Line: line, Msg: fmt.Sprintf("more than %d rows", maxManifestRows)}
		}
		m := map[string]string{}
		for i, v := range rec {
			m[head[i]] = strings.TrimSpace(v)
		}
		rows = append(rows, m)
		lines = append(lines, line)
	}
	return rows, lines, nil
}

func jsonRows(path string, b []byte) ([]map[string]string, []int, error) {
	var rows []map[string]string
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		t := bytes.TrimSpace(sc.Bytes())
		if len(t) == 0 {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal(t, &raw); err != nil {
			return nil, nil, &ManifestError{Path: path, Line: n, Msg: err.Error()}
		}
		if len(rows) >= maxManifestRows {
			return nil, nil, &ManifestError{Path: path, Line: n, Msg: fmt.Sprintf("more than %d rows", maxManifestRows)}
		}
		m := map[string]string{}
		for k, v := range raw {
			if !known(k) {
				return nil, nil, &ManifestError{Path: path, Line: n, Msg: fmt.Sprintf("unknown column %q (columns: %s)", k, strings.Join(manifestColumns, ", "))}
			}
			switch v := v.(type) {
			case string:
				m[k] = strings.TrimSpace(v)
			case bool:
				m[k] = strconv.FormatBool(v)
			case nil:
			default:
				return nil, nil, &ManifestError{Path: path, Line: n, Msg: fmt.Sprintf("column %q: want a string, got %v", k, v)}
			}
		}
		rows = append(rows, m)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &ManifestError{Path: path, Line: n + 1, Msg: err.Error()}
	}
	return rows, lines, nil
}

func manifestRow(path, dir string, line int, r map[string]string) (Input, error) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	in := Input{Path: rel(r["image"]), Case: r["case"], Set: r["set"], Hive: rel(r["hive"]), Member: r["member"], Serial: r["serial"]}
	if r["image"] == "" {
		return in, &ManifestError{Path: path, Line: line, Msg: "the image column is empty"}
	}
	switch strings.ToLower(r["prefer"]) {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		in.Prefer = true
	default:
		return in, &ManifestError{Path: path, Line: line, Msg: fmt.Sprintf("prefer %q: want true or false", r["prefer"])}
	}
	if in.Member != "" && in.Hive == "" {
		return in, &ManifestError{Path: path, Line: line, Msg: "member needs hive: the binding refers to the hive's FT members"}
	}
	return in, nil
}
