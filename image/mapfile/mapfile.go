// Package mapfile reads and writes GNU ddrescue mapfiles: the list of
// which blocks of a rescued image were read from the failing disk and
// which were not.
//
// The format, as the ddrescue manual ("Mapfile structure") gives it: lines
// starting with '#' are comments; the first other line is the status line
// (current position, current status character, and since ddrescue 1.21 the
// current pass); every line after it is one block "pos size status", the
// blocks sorted, contiguous and non-overlapping. Numbers are written in
// hex (0x…) by ddrescue; like ddrescue, Parse also takes decimal and octal
// (leading 0). A block's status is '+' (finished: read), '-' (bad sector),
// '/' (non-scraped), '*' (non-trimmed) or '?' (non-tried). Only '+' bytes
// were read from the disk; every other block is unreadable and holds, in
// the image, whatever ddrescue left there (zeros, or nothing at all).
//
// The package knows no image format: it maps byte ranges.
package mapfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Block statuses.
const (
	NonTried   = '?'
	NonTrimmed = '*'
	NonScraped = '/'
	BadSector  = '-'
	Finished   = '+'
)

// Limits: a line longer than maxLine bytes is not a mapfile line.
const maxLine = 4096

// Range is a run of bytes of the image.
type Range struct {
	Off, Len int64
}

// End is Off+Len.
func (r Range) End() int64 { return r.Off + r.Len }

// Map is a parsed mapfile. Only the blocks that are not finished are kept
// (merged where they touch), so memory grows with the number of bad
// regions, not with the size of the disk.
type Map struct {
	CurrentPos    int64
	CurrentStatus byte
	CurrentPass   int // 0 when the status line has none (ddrescue before 1.21)
	// End is the end of the last block: the extent the mapfile describes.
	End int64
	// Bad are the blocks whose status is not '+', merged, in order; Status
	// counts the bytes of each status character.
	Bad    []Range
	Status map[byte]int64
	Blocks int // number of block lines
}

// FormatError is a mapfile that does not follow the format, naming the
// file and line.
type FormatError struct {
	Name string
	Line int // 1-based; 0 when the error is about the whole file
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: ddrescue mapfile: %s", e.Name, e.Msg)
	}
	return fmt.Sprintf("%s:%d: ddrescue mapfile: %s", e.Name, e.Line, e.Msg)
}

// Parse reads a mapfile. name is used in errors only.
func Parse(r io.Reader, name string) (*Map, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	m := &Map{Status: map[byte]int64{}}
	line := 0
	fail := func(format string, args ...any) (*Map, error) {
		return nil, &FormatError{Name: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	haveStatus := false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if !haveStatus {
			if len(f) < 2 || len(f) > 3 {
				return fail("status line %q: want \"current_pos current_status [current_pass]\"", text)
			}
			pos, err := number(f[0])
			if err != nil {
				return fail("status line: current position %q: %v", f[0], err)
			}
			if len(f[1]) != 1 || !strings.Contains("?*/-FG+", f[1]) {
				return fail("status line: current status %q is not one of ? * / - F G +", f[1])
			}
			m.CurrentPos, m.CurrentStatus = pos, f[1][0]
			if len(f) == 3 {
				pass, err := strconv.Atoi(f[2])
				if err != nil || pass < 1 || pass > 5 {
					return fail("status line: current pass %q is not 1 to 5", f[2])
				}
				m.CurrentPass = pass
			}
			haveStatus = true
			continue
		}
		if len(f) != 3 {
			return fail("block line %q: want \"pos size status\"", text)
		}
		pos, err := number(f[0])
		if err != nil {
			return fail("block position %q: %v", f[0], err)
		}
		size, err := number(f[1])
		if err != nil {
			return fail("block size %q: %v", f[1], err)
		}
		if len(f[2]) != 1 || !strings.Contains("?*/-+", f[2]) {
			return fail("block status %q is not one of ? * / - +", f[2])
		}
		if size <= 0 {
			return fail("block at %#x has size %d", pos, size)
		}
		if pos > math.MaxInt64-size {
			return fail("block at %#x of %d bytes ends past the largest offset", pos, size)
		}
		switch {
		case m.Blocks == 0 && pos != 0:
			return fail("first block starts at %#x, not 0: the bytes before it are not described (gap)", pos)
		case pos < m.End:
			return fail("block at %#x overlaps the previous block, which ends at %#x", pos, m.End)
		case pos > m.End:
			return fail("gap: block at %#x does not start where the previous block ends (%#x)", pos, m.End)
		}
		m.Blocks++
		m.End = pos + size
		st := f[2][0]
		m.Status[st] += size
		if st == Finished {
			continue
		}
		if n := len(m.Bad); n > 0 && m.Bad[n-1].End() == pos {
			m.Bad[n-1].Len += size
		} else {
			m.Bad = append(m.Bad, Range{pos, size})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			line++
			return fail("line longer than %d bytes: not a mapfile", maxLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	line = 0
	if !haveStatus {
		return fail("no status line: not a ddrescue mapfile (empty, or only comments)")
	}
	if m.Blocks == 0 {
		return fail("no blocks")
	}
	return m, nil
}

// number parses a non-negative integer as ddrescue does (strtoll base 0):
// decimal, 0x hex, or 0 octal.
func number(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, err
	}
	if v < 0 {
		return 0, errors.New("negative")
	}
	return v, nil
}

// Unreadable returns the ranges of an image of size bytes that the map
// does not show read: every block whose status is not '+', and the bytes
// past the end of the map (ddrescue never tried them). A block past the
// end of the image is an error: the mapfile is not this image's.
func (m *Map) Unreadable(name string, size int64) ([]Range, error) {
	if m.End > size {
		return nil, &FormatError{Name: name, Msg: fmt.Sprintf("the blocks end at byte %#x, past the end of the image (%d bytes): not this image's mapfile", m.End, size)}
	}
	out := make([]Range, 0, len(m.Bad)+1)
	out = append(out, m.Bad...)
	if m.End < size {
		if n := len(out); n > 0 && out[n-1].End() == m.End {
			out[n-1].Len = size - out[n-1].Off
		} else {
			out = append(out, Range{m.End, size - m.End})
		}
	}
	return out, nil
}

// Write writes a mapfile for an image of size bytes in which the ranges
// bad (sorted, non-overlapping, inside the image) are bad sectors ('-') and
// everything else is finished ('+'). Each comment is written as a '#' line
// after ddrescue's own header lines.
func Write(w io.Writer, size int64, bad []Range, comments ...string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# Mapfile. Created by mirrorchk (GNU ddrescue mapfile format)")
	for _, c := range comments {
		for _, l := range strings.Split(c, "\n") {
			fmt.Fprintf(bw, "# %s\n", l)
		}
	}
	fmt.Fprintln(bw, "# current_pos  current_status  current_pass")
	fmt.Fprintf(bw, "0x%08X     +               1\n", 0)
	fmt.Fprintln(bw, "#      pos        size  status")
	var at int64
	for _, r := range bad {
		if r.Len <= 0 {
			continue
		}
		if r.Off < at || r.End() > size {
			return fmt.Errorf("mapfile: bad range %#x+%#x out of order or past the image (%d bytes)", r.Off, r.Len, size)
		}
		if r.Off > at {
			fmt.Fprintf(bw, "0x%08X  0x%08X  +\n", at, r.Off-at)
		}
		fmt.Fprintf(bw, "0x%08X  0x%08X  -\n", r.Off, r.Len)
		at = r.End()
	}
	if at < size {
		fmt.Fprintf(bw, "0x%08X  0x%08X  +\n", at, size-at)
	}
	return bw.Flush()
}
