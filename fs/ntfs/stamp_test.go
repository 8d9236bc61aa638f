package ntfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStampAgainstIstat: the sequence number, allocation, LSN and
// $STANDARD_INFORMATION MFT change time of every formatted record among
// the first 48 of an ntfs-3g and a Windows volume, as Sleuth Kit's istat
// reads them.
func TestStampAgainstIstat(t *testing.T) {
	seqRe := regexp.MustCompile(`Sequence: (\d+)`)
	lsnRe := regexp.MustCompile(`\$LogFile Sequence Number: (\d+)`)
	mftRe := regexp.MustCompile(`MFT Modified:\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)`)
	for _, fx := range []string{fxSmall, fxWin} {
		img := image(t, fx)
		v := open(t, img)
		p := writeImage(t, img)
		checked, lsns := 0, 0
		for n := int64(0); n < min(v.Records(), 48); n++ {
			s, ok := v.Stamp(n)
			if !ok || !s.Formatted {
				continue
			}
			out, rc := run(t, "istat", "sleuthkit", "-f", "ntfs", p, fmt.Sprint(n))
			if rc != 0 {
				t.Errorf("%s record %d: istat exit %d: %s", fx, n, rc, out)
				continue
			}
			if m := seqRe.FindStringSubmatch(out); m == nil || m[1] != fmt.Sprint(s.Seq) {
				t.Errorf("%s record %d: sequence %d, istat %v", fx, n, s.Seq, m)
			}
			if m := lsnRe.FindStringSubmatch(out); m == nil || m[1] != strconv.FormatUint(s.LSN, 10) {
				t.Errorf("%s record %d: LSN %d, istat %v", fx, n, s.LSN, m)
			}
			if alloc := !strings.Contains(out, "Not Allocated"); alloc != s.InUse {
				t.Errorf("%s record %d: in use %v, istat allocated %v", fx, n, s.InUse, alloc)
			}
			si := ""
			if i := strings.Index(out, "$STANDARD_INFORMATION Attribute Values:"); i >= 0 {
				si = out[i:]
			}
			m := mftRe.FindStringSubmatch(si)
			switch {
			case m == nil && !s.Changed.IsZero():
				t.Errorf("%s record %d: MFT change time %v, istat none", fx, n, s.Changed)
			case m != nil && s.Changed.IsZero() && m[1] == "2076-11-29 08:54:34.000000000":
				// A FILETIME of 0 (mkntfs leaves the system files' times
				// so), which istat's unsigned arithmetic prints thus.
			case m != nil:
				want, err := time.Parse("2006-01-02 15:04:05.999999999", m[1])
				if err != nil || !want.Equal(s.Changed) {
					t.Errorf("%s record %d: MFT change time %v, istat %s", fx, n, s.Changed, m[1])
				}
			}
			checked++
			if s.LSN > 0 {
				lsns++
			}
		}
		if checked < 16 || (fx == fxWin && lsns == 0) {
			t.Errorf("%s: %d records checked, %d with an LSN", fx, checked, lsns)
		}
	}
}

// TestStampBody: a read (the access time), a rewrite (the update
// sequence number, the LSN) and a directory's index root leave the body
// alone; any other byte in use changes it; zeros are a record never used;
// a torn record has no stamp.
func TestStampBody(t *testing.T) {
	img := image(t, fxSmall)
	v := open(t, img)
	rs := v.Boot().RecordSize
	raw := func(n int64) []byte {
		b := make([]byte, rs)
		if err := v.readStream(v.mftRuns, n*rs, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A file record with a resident $STANDARD_INFORMATION, and the root
	// directory's record with its index root.
	var file int64 = -1
	for n := int64(16); n < v.Records() && file < 0; n++ {
		if r, err := v.Record(n); err == nil && r.InUse() && !r.IsDir() && r.find(AttrStandardInformation, "") != nil {
			file = n
		}
	}
	if file < 0 {
		t.Fatal("no file record")
	}
	stamp := func(b []byte) [32]byte {
		t.Helper()
		s, ok := StampRecord(bytes.Clone(b))
		if !ok || !s.Formatted {
			t.Fatalf("no stamp: %+v %v", s, ok)
		}
		return s.Body
	}
	attrAt := func(b []byte, typ uint32) int {
		r, err := ParseRecord(bytes.Clone(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		a := r.find(typ, "")
		if typ == AttrIndexRoot {
			a = r.find(typ, "$I30")
		}
		if a == nil {
			t.Fatalf("no attribute %#x", typ)
		}
		return a.Off + int(binary.LittleEndian.Uint16(b[a.Off+0x14:]))
	}
	b := raw(file)
	body := stamp(b)
	si := attrAt(b, AttrStandardInformation)
	for _, tc := range []struct {
		what string
		off  int
		same bool
	}{
		{"access time", si + 0x18, true},
		{"LSN", 0x08, true},
		{"update sequence number", int(binary.LittleEndian.Uint16(b[4:])), true},
		{"MFT change time", si + 0x10, false},
		{"creation time", si, false},
		{"links", 0x12, false},
	} {
		c := bytes.Clone(b)
		c[tc.off] ^= 0x5A
		if tc.what == "update sequence number" {
			// The number is at the end of every 512-byte block too.
			for blk := 1; blk*FixupStride <= len(c); blk++ {
				c[blk*FixupStride-2] = c[tc.off]
			}
		}
		if got := stamp(c) == body; got != tc.same {
			t.Errorf("%s changed: body unchanged %v, want %v", tc.what, got, tc.same)
		}
	}
	root := raw(recRoot)
	c := bytes.Clone(root)
	c[attrAt(root, AttrIndexRoot)+0x20] ^= 0x5A
	if stamp(c) != stamp(root) {
		t.Error("a change in the root directory's index root changed its body")
	}
	if s, ok := StampRecord(make([]byte, rs)); !ok || s.Formatted {
		t.Errorf("zeros: %+v %v", s, ok)
	}
	c = bytes.Clone(b)
	c[FixupStride-1] ^= 0xFF
	if _, ok := StampRecord(c); ok {
		t.Error("a torn record has a stamp")
	}
}
