package ntfs

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/mirrorchk/mirrorchk/fs"
)

// StampRecord reads what a raw FILE record (b, fixups not yet applied;
// it is modified) says of its own last change: the fields only the driver
// maintains (sequence number, LSN, $STANDARD_INFORMATION MFT change time)
// and a hash of the rest (without the index root of a directory, whose
// copies of its files' details change with the files). A record of zeros
// was never used (Formatted false). ok is false when b is neither: damaged, torn, or not a FILE
// record; such a copy is judged by its structure, not by its stamps.
func StampRecord(b []byte) (s fs.RecordStamp, ok bool) {
	if allZero(b) {
		return s, true
	}
	r, err := ParseRecord(b, 0)
	if err != nil || r.Torn >= 0 || (r.Err != nil && r.InUse()) {
		return s, false
	}
	le := binary.LittleEndian
	s.Formatted, s.InUse, s.Seq, s.LSN = true, r.InUse(), r.Seq, r.LSN
	// ParseRecord validated the update sequence array: it lies in b.
	usaOfs, usaCount := int(le.Uint16(b[4:])), int(le.Uint16(b[6:]))
	clear(b[usaOfs : usaOfs+2*usaCount])
	clear(b[0x08:0x10])
	// Attribute values are slices of b: clearing them clears b.
	for _, a := range r.Attrs {
		switch {
		case a.Type == AttrIndexRoot && a.Resident:
			// A directory's index root holds copies of its files' names,
			// sizes and times, which the driver updates when a file
			// changes without stamping the directory: the file's own
			// record is stamped.
			clear(a.Value)
		case a.Type == AttrStandardInformation && a.Resident && s.Changed.IsZero() && len(a.Value) >= 0x18:
			if t, ok := filetime(le.Uint64(a.Value[0x10:])); ok {
				s.Changed = t
			}
			if len(a.Value) >= 0x20 {
				clear(a.Value[0x18:0x20]) // the access time changes on a read
			}
		}
	}
	end := len(b)
	if int(r.BytesInUse) < end {
		end = int(r.BytesInUse)
	}
	s.Body = sha256.Sum256(b[:end])
	return s, true
}

// Stamp returns what this volume's copy of FILE record n says of its own
// last change (StampRecord); false when it cannot be read or is damaged.
func (v *Volume) Stamp(n int64) (fs.RecordStamp, bool) {
	if n < 0 || n >= v.nrec {
		return fs.RecordStamp{}, false
	}
	b := make([]byte, v.boot.RecordSize)
	if err := v.readStream(v.mftRuns, n*v.boot.RecordSize, b); err != nil {
		return fs.RecordStamp{}, false
	}
	return StampRecord(b)
}
