package ntfs

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// shrink cuts a fixture to its first n bytes and makes that a volume of
// its own: total sectors patched, the boot sector copied to the last
// sector as the backup. The records' runs still point where they did, so
// most of them now run past the volume.
func shrink(img []byte, n int64, mftTo int64) []byte {
	b := make([]byte, n)
	copy(b, img[:n])
	bps := int64(binary.LittleEndian.Uint16(b[0x0B:]))
	binary.LittleEndian.PutUint64(b[0x28:], uint64(n/bps-1))
	if mftTo > 0 {
		// Move the first 64 KiB of $MFT to cluster mftTo.
		spc := int64(b[0x0D])
		cs := spc * bps
		from := int64(binary.LittleEndian.Uint64(b[0x30:])) * cs
		copy(b[mftTo*cs:], img[from:from+64<<10])
		binary.LittleEndian.PutUint64(b[0x30:], uint64(mftTo))
	}
	copy(b[n-bps:], b[:512])
	return b
}

func fuzzSeeds(f testing.TB) [][]byte {
	small := image(f, fxSmall)
	win := image(f, fxWin)
	return [][]byte{
		shrink(small, 128<<10, 0),
		shrink(win, 128<<10, 4),
		small[:4096],
	}
}

// FuzzOpen opens arbitrary volumes: Open either fails or gives a volume
// whose owners cover any range exactly and whose checks never panic.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		size := v.Size()
		n := min(size, int64(len(b))) + 4096
		checkCover(t, v.Owners(0, n), 0, n)
		checkCover(t, v.Owners(size-1000, 3000), size-1000, 3000)
		v.Judge(0, n)
		v.Problems()
		v.Evidence()
		for i := int64(0); i < min(v.Records(), 64); i++ {
			if r, err := v.Record(i); err == nil && r.InUse() {
				v.Runs(i, AttrData, "")
			}
		}
	})
}

// FuzzRecord decodes arbitrary FILE records, mapping pairs and attribute
// lists.
func FuzzRecord(f *testing.F) {
	for _, fx := range []string{fxSmall, fxWin} {
		img := image(f, fx)
		v := open(f, img)
		rs := v.Boot().RecordSize
		for i := int64(0); i < min(v.Records(), 40); i++ {
			b := make([]byte, rs)
			v.readStream(v.mftRuns, i*rs, b)
			f.Add(b)
		}
	}
	f.Add([]byte{0x21, 0x10, 0x00, 0x01, 0x11, 0x05, 0xF0, 0x01, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeRuns(b, 0)
		parseAttrList(b)
		parseFileName(b)
		if s, ok := StampRecord(bytes.Clone(b)); ok && s.Formatted != !allZero(b) {
			t.Fatalf("stamp %+v of a record that is all zero: %v", s, allZero(b))
		}
		c := bytes.Clone(b)
		if torn, err := Fixup(c); err == nil && (torn < -1 || torn*FixupStride >= len(c)) {
			t.Fatalf("torn block %d of %d bytes", torn, len(c))
		}
		r, err := ParseRecord(bytes.Clone(b), 1)
		if err != nil {
			return
		}
		for _, a := range r.Attrs {
			var vcn int64 = a.StartVCN
			for _, run := range a.Runs {
				if run.VCN != vcn || run.Len <= 0 || (!run.Sparse && run.LCN < 0) {
					t.Fatalf("bad run %+v", run)
				}
				vcn += run.Len
			}
		}
	})
}

// TestDecodeRuns: mapping pairs with sparse runs and negative offsets.
func TestDecodeRuns(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want []Run
		err  bool
	}{
		{[]byte{0x21, 0x18, 0x34, 0x56, 0x00}, []Run{{0, 0x5634, 0x18, false}}, false},
		{[]byte{0x11, 0x30, 0x20, 0x01, 0x60, 0x11, 0x10, 0xF0, 0x00}, []Run{{0, 0x20, 0x30, false}, {0x30, -1, 0x60, true}, {0x90, 0x10, 0x10, false}}, false},
		{[]byte{0x11, 0x30, 0x20, 0x11, 0x10, 0x80, 0x00}, []Run{{0, 0x20, 0x30, false}}, true}, // LCN 0x20-0x80 < 0
		{[]byte{0x11, 0x30}, nil, true},
		{[]byte{0x09}, nil, true},
		{[]byte{0x11, 0x30, 0x20}, []Run{{0, 0x20, 0x30, false}}, true}, // not terminated
	} {
		got, err := DecodeRuns(tc.in, 0)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("DecodeRuns(% x) = %+v, %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("DecodeRuns(% x)[%d] = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// TestFixup: a record whose block 2 carries an old update sequence number.
func TestFixup(t *testing.T) {
	b := make([]byte, 2048)
	copy(b, "FILE")
	binary.LittleEndian.PutUint16(b[4:], 0x30)
	binary.LittleEndian.PutUint16(b[6:], 5)
	binary.LittleEndian.PutUint16(b[0x30:], 7) // USN
	for i := 1; i <= 4; i++ {
		binary.LittleEndian.PutUint16(b[0x30+2*i:], uint16(0x1100+i)) // saved words
		binary.LittleEndian.PutUint16(b[i*512-2:], 7)
	}
	good := bytes.Clone(b)
	if torn, err := Fixup(good); torn != -1 || err != nil || binary.LittleEndian.Uint16(good[1022:]) != 0x1102 {
		t.Fatalf("Fixup = %d, %v; word %#x", torn, err, binary.LittleEndian.Uint16(good[1022:]))
	}
	binary.LittleEndian.PutUint16(b[3*512-2:], 6)
	if torn, err := Fixup(b); torn != 2 || err != nil {
		t.Fatalf("Fixup(torn) = %d, %v; want block 2", torn, err)
	}
	binary.LittleEndian.PutUint16(b[6:], 9) // more words than blocks
	if _, err := Fixup(b); err == nil {
		t.Fatal("Fixup accepted 9 words for 2048 bytes")
	}
}
