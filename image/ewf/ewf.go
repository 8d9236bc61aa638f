// Package ewf reads EWF (Expert Witness Compression Format) disk images:
// the .E01 segment sets written by EnCase 1–7, FTK Imager, linen and
// libewf's ewfacquire, and the older SMART (.s01) layout.
//
// Open walks every segment file of the set (E01, E02, … E99, EAA, … EZZ,
// FAA, … ZZZ), checks each section descriptor, and returns a Disk: an
// io.ReaderAt over the acquired media. Chunks are inflated on demand, each
// one checked against its Adler-32 (stored after an uncompressed chunk, or
// at the end of the zlib stream of a compressed one); a chunk that fails is
// an error naming the segment file and offset, never zeros. Sequential
// reads are served by a bounded read-ahead that inflates the next chunks in
// parallel goroutines.
//
// The acquisition metadata is handed up as found: the case fields of the
// header2/header section (Header), the MD5 and SHA-1 stored in the hash and
// digest sections (StoredHashes, not recomputed here), and the sectors the
// acquiring program could not read (error2 section, Unreadable), which it
// stored as zeros.
//
// EWF2 (Ex01, Lx01) and logical evidence files (L01) are recognised by
// Detect and refused by Open with an UnsupportedError.
//
// Sources: libyal/libewf's "Expert Witness Compression Format (EWF)"
// document and the observed output of ewf-tools 20140813 (ewfacquire,
// ewfacquirestream, ewfexport, ewfinfo), against which the tests compare;
// no code was copied.
package ewf

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// OpenFunc opens another file a container refers to: for EWF, the next
// segment file, by the name computed from the first segment's name (x.E01
// → x.E02 …). The caller resolves the name against the first segment's
// directory and opens it read-only. A missing file is an error wrapping
// fs.ErrNotExist.
type OpenFunc func(name string) (r io.ReaderAt, size int64, err error)

// FormatError reports damage in an EWF segment file: which file, where,
// which structure and field.
type FormatError struct {
	File  string // the file's name as given to Open / computed for OpenFunc
	Off   int64  // byte offset in that file
	Field string // the structure and field, e.g. "table entry 12", "section descriptor next"
	Msg   string
	err   error // cause, when there is one (e.g. a missing segment wraps fs.ErrNotExist)
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("%s: EWF %s at byte %#x: %s", e.File, e.Field, e.Off, e.Msg)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the cause, if any.
func (e *FormatError) Unwrap() error { return e.err }

// UnsupportedError reports a file that is recognised as an EWF variant this
// reader does not read (EWF2/Ex01, L01 logical evidence). It says what to do.
type UnsupportedError struct {
	File string
	Msg  string
}

func (e *UnsupportedError) Error() string { return e.File + ": " + e.Msg }

// Range is a run of media bytes.
type Range struct {
	Off int64 // byte offset in the media
	Len int64 // length in bytes
}

// Header is the acquisition metadata of the header2 section (UTF-16,
// EnCase 4 and later) or, when there is no usable header2, of the header
// section (single-byte text). Fields are as stored; an empty field was
// empty or absent. EWF stores no name of the acquiring program, only its
// version (SoftwareVersion).
type Header struct {
	Source          string // "header2" or "header": the section the values come from
	CaseNumber      string // c
	EvidenceNumber  string // n
	Description     string // a
	Examiner        string // e
	Notes           string // t
	Model           string // md
	SerialNumber    string // sn
	DeviceLabel     string // l
	SoftwareVersion string // av: version of the acquiring software
	OS              string // ov: operating system the acquisition ran on
	AcquisitionDate string // m, as stored: POSIX seconds (header2) or "YYYY M D h m s" (header)
	SystemDate      string // u, as stored, same encodings as m

	// Acquired and System decode m and u; zero when absent or not
	// decodable. From header2 they are UTC instants. From a header
	// section they are the acquiring machine's local clock reading, zone
	// unknown, given here with location UTC but not converted; LocalTime
	// is then true.
	Acquired  time.Time
	System    time.Time
	LocalTime bool

	// Values holds every key and value of the section's main category.
	Values map[string]string
}

// Signatures of the first bytes of segment files.
var (
	sigEVF  = []byte("EVF\x09\x0d\x0a\xff\x00") // EWF / E01 / S01
	sigLVF  = []byte("LVF\x09\x0d\x0a\xff\x00") // L01 logical evidence
	sigEVF2 = []byte("EVF2\x0d\x0a\x81\x00")    // Ex01
	sigLEF2 = []byte("LEF2\x0d\x0a\x81\x00")    // Lx01
	sigAD   = []byte("ADCRYPT\x00")             // FTK Imager "AD encryption" container
)

// Detect reports whether head (the first bytes of a file) starts with the
// signature of an EWF segment file: E01/S01, or the recognised but
// unsupported L01, Ex01, Lx01 and FTK Imager's AD-encrypted container (Open
// refuses those clearly). tail is not used.
func Detect(head, tail []byte) bool {
	for _, s := range [][]byte{sigEVF, sigLVF, sigEVF2, sigLEF2, sigAD} {
		if bytes.HasPrefix(head, s) {
			return true
		}
	}
	return false
}
