package ewf

import (
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// headerSection reads a header2 or header section. Damage here does not
// stop reading the media: it is reported as a warning and the other
// section (or none) gives the metadata.
func (w *walker) headerSection(seg *segment, typ string, dataOff, dataLen int64) {
	if (typ == "header2" && w.header2 != nil) || (typ == "header" && w.headerSec != nil) {
		return // the first copy is used
	}
	fail := func(err error) {
		w.headerErr = append(w.headerErr, fmt.Sprintf("%s: %s section at %#x: %v; its case metadata is not used", seg.name, typ, dataOff-descSize, err))
	}
	raw, err := inflateMeta(seg.r, dataOff, dataLen)
	if err != nil {
		fail(err)
		return
	}
	var text string
	if typ == "header2" {
		text, err = utf16Text(raw)
		if err != nil {
			fail(err)
			return
		}
	} else {
		text = latin1(raw)
	}
	h, err := parseHeader(text)
	if err != nil {
		fail(err)
		return
	}
	h.Source = typ
	if typ == "header2" {
		w.header2 = h
	} else {
		w.headerSec = h
	}
}

// inflateMeta inflates the zlib stream of a metadata section, at most
// maxMeta bytes, and checks its Adler-32.
func inflateMeta(r io.ReaderAt, off, n int64) ([]byte, error) {
	zr, err := zlib.NewReader(io.NewSectionReader(r, off, n))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxMeta+1))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if len(b) > maxMeta {
		return nil, errors.New("inflates to more than 1 MiB")
	}
	return b, nil
}

// utf16Text decodes header2 text: UTF-16 with a byte-order mark (FF FE
// little-endian, FE FF big-endian; little-endian without one).
func utf16Text(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("odd length %d for UTF-16 text", len(b))
	}
	big := false
	switch {
	case len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe:
		b = b[2:]
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		b = b[2:]
		big = true
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if big {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return string(utf16.Decode(u)), nil
}

// latin1 decodes single-byte header text. ewfacquire writes ASCII by
// default; other code pages (-A windows-1252 …) are not recorded in the
// file, so bytes from 0x80 are read as ISO 8859-1.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// parseHeader parses the "main" category of header text: a line with the
// number of categories, "main", a line of tab-separated keys and a line of
// tab-separated values. Keys are matched by name, never by position.
func parseHeader(text string) (*Header, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.SplitN(text, "\n", 5)
	if len(lines) < 4 || strings.TrimSpace(lines[1]) != "main" {
		return nil, errors.New(`no "main" category`)
	}
	keys := strings.Split(lines[2], "\t")
	vals := strings.Split(lines[3], "\t")
	if len(keys) != len(vals) {
		return nil, fmt.Errorf("%d keys but %d values (a value may hold a tab)", len(keys), len(vals))
	}
	h := &Header{Values: make(map[string]string, len(keys))}
	for i, k := range keys {
		h.Values[k] = vals[i]
	}
	v := h.Values
	h.CaseNumber = v["c"]
	h.EvidenceNumber = v["n"]
	h.Description = v["a"]
	h.Examiner = v["e"]
	h.Notes = v["t"]
	h.Model = v["md"]
	h.SerialNumber = v["sn"]
	h.DeviceLabel = v["l"]
	h.SoftwareVersion = v["av"]
	h.OS = v["ov"]
	h.AcquisitionDate = v["m"]
	h.SystemDate = v["u"]
	var local1, local2 bool
	h.Acquired, local1 = parseTime(h.AcquisitionDate)
	h.System, local2 = parseTime(h.SystemDate)
	h.LocalTime = local1 || local2
	return h, nil
}

// parseTime decodes a header date: POSIX seconds, or "YYYY M D h m s" in
// the acquiring machine's local time (local is then true).
func parseTime(s string) (t time.Time, local bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<40 {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), false
	}
	f := strings.Fields(s)
	if len(f) != 6 {
		return time.Time{}, false
	}
	var x [6]int
	for i, p := range f {
		n, err := strconv.Atoi(p)
		if err != nil {
			return time.Time{}, false
		}
		x[i] = n
	}
	if x[1] < 1 || x[1] > 12 || x[2] < 1 || x[2] > 31 || x[3] > 23 || x[4] > 59 || x[5] > 60 || x[0] < 1900 || x[0] > 9999 {
		return time.Time{}, false
	}
	return time.Date(x[0], time.Month(x[1]), x[2], x[3], x[4], x[5], 0, time.UTC), true
}
