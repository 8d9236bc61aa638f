package vmdk

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// descriptor is what this package uses of a VMDK text descriptor.
type descriptor struct {
	createType   string
	cid          string
	parentCID    string
	parentCIDOff int64
	parentHint   string
	parentOff    int64
	extents      []descExtent
}

// descExtent is one extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]].
type descExtent struct {
	access  string
	sectors int64
	typ     string
	file    string
	offset  int64 // sectors, FLAT only
	lineOff int64 // file offset of the line
}

// readDescriptor reads and parses n bytes of descriptor text at off.
func readDescriptor(r interface {
	ReadAt([]byte, int64) (int, error)
}, size int64, file string, off, n int64) (*descriptor, error) {
	if n > maxDescriptor {
		return nil, &FormatError{File: file, Off: off, Field: "descriptor", Msg: fmt.Sprintf("%d bytes, longer than %d", n, maxDescriptor)}
	}
	if off < 0 || n < 0 || off > size || n > size-off {
		return nil, &FormatError{File: file, Off: off, Field: "descriptor", Msg: fmt.Sprintf("%d bytes at %#x run past the end of the file (%d bytes)", n, off, size)}
	}
	b := make([]byte, n)
	if err := readFile(r, file, size, b, off); err != nil {
		return nil, err
	}
	return parseDescriptor(b, file, off)
}

// parseDescriptor parses descriptor text b found at byte base of file.
// The text ends at the first NUL byte.
func parseDescriptor(b []byte, file string, base int64) (*descriptor, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	d := &descriptor{}
	pos := int64(0)
	for len(b) > 0 {
		line := b
		next := len(b)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, next = b[:i], i+1
		}
		lineOff := base + pos
		b = b[next:]
		pos += int64(next)
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		first := strings.ToUpper(strings.Fields(s)[0])
		switch first {
		case "RW", "RDONLY", "NOACCESS", "WRONLY":
			e, err := parseExtentLine(s, file, lineOff)
			if err != nil {
				return nil, err
			}
			d.extents = append(d.extents, e)
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "createtype":
			d.createType = v
		case "cid":
			d.cid = v
		case "parentcid":
			d.parentCID, d.parentCIDOff = v, lineOff
		case "parentfilenamehint":
			d.parentHint, d.parentOff = v, lineOff
		}
	}
	return d, nil
}

func parseExtentLine(s, file string, off int64) (descExtent, error) {
	bad := func(msg string) (descExtent, error) {
		return descExtent{}, &FormatError{File: file, Off: off, Field: "descriptor extent line", Msg: fmt.Sprintf("%q: %s", s, msg)}
	}
	e := descExtent{lineOff: off}
	head, rest := s, ""
	if q := strings.IndexByte(s, '"'); q >= 0 {
		head = s[:q]
		end := strings.IndexByte(s[q+1:], '"')
		if end < 0 {
			return bad("the file name has no closing quote")
		}
		e.file = s[q+1 : q+1+end]
		rest = strings.TrimSpace(s[q+2+end:])
	}
	f := strings.Fields(head)
	if len(f) != 3 {
		return bad("want ACCESS SECTORS TYPE \"FILE\" [OFFSET]")
	}
	e.access, e.typ = strings.ToUpper(f[0]), strings.ToUpper(f[2])
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n <= 0 || n > 1<<52/512 {
		return bad("the sector count is not a number between 1 and 2^43")
	}
	e.sectors = n
	if rest != "" {
		o, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		if err != nil || o < 0 || o > 1<<52/512 {
			return bad("the offset is not a sector number")
		}
		e.offset = o
	}
	if e.typ != "ZERO" && e.file == "" {
		return bad("no file name")
	}
	if e.access == "NOACCESS" {
		return descExtent{}, &UnsupportedError{File: file, What: fmt.Sprintf("a NOACCESS extent (%q)", s), Advice: adviceConvert}
	}
	return e, nil
}
