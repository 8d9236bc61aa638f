package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The format of an input is decided here, by content alone, in one place:
//
//  1. a registered container (containers.go) whose Detect accepts the
//     file's first 4 KiB and last 512 bytes is read as that container;
//  2. a signature in refusals is refused with a message naming the format
//     and what to do;
//  3. anything else is raw. That is the only rule that decides "raw": no
//     known signature at the known places.
//
// A refused or unreadable input is never read as raw.

const (
	headSize = 4096
	tailSize = 512
)

// refusal is a format mirrorchk recognises and does not read.
type refusal struct {
	name  string
	match func(head, tail []byte) bool
	what  string // what to do, after the format's name
}

func at(b []byte, off int, sig string) bool {
	return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig
}

var refusals = []refusal{
	// Compressed streams: a disk image someone compressed. Each magic is
	// checked with enough of its header that a raw disk cannot match by
	// chance in practice.
	{"gzip stream", func(h, _ []byte) bool {
		return len(h) >= 4 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 && h[3]&0xe0 == 0
	}, "decompress it first (gunzip -k, which keeps the compressed file) and give the image it writes"},
	{"xz stream", func(h, _ []byte) bool { return at(h, 0, "\xfd7zXZ\x00") },
		"decompress it first (xz -dk) and give the image it writes"},
	{"zstd stream", func(h, _ []byte) bool { return at(h, 0, "\x28\xb5\x2f\xfd") },
		"decompress it first (zstd -d) and give the image it writes"},
	{"bzip2 stream", func(h, _ []byte) bool {
		return len(h) >= 10 && at(h, 0, "BZh") && h[3] >= '1' && h[3] <= '9' && at(h, 4, "1AY&SY")
	}, "decompress it first (bunzip2 -k)"},
	{"lz4 frame", func(h, _ []byte) bool { return at(h, 0, "\x04\x22\x4d\x18") },
		"decompress it first (lz4 -d)"},
	{"zip archive", func(h, _ []byte) bool { return at(h, 0, "PK\x03\x04") },
		"an archive (or an AFF4 container) is not a disk image: extract or convert the disk image first"},
	{"7-Zip archive", func(h, _ []byte) bool { return at(h, 0, "7z\xbc\xaf\x27\x1c") },
		"an archive is not a disk image: extract the disk image first"},
	{"tar archive", func(h, _ []byte) bool { return at(h, 257, "ustar") },
		"an archive is not a disk image: extract the disk image first"},
	// Containers and evidence formats not read.
	{"EWF2 (Ex01)", func(h, _ []byte) bool { return at(h, 0, "EVF2\r\n\x81\x00") },
		"is not supported yet: convert it with ewfexport -f raw, or re-acquire as E01"},
	{"EWF logical evidence (L01)", func(h, _ []byte) bool { return at(h, 0, "LVF\x09\x0d\x0a\xff\x00") },
		"holds files, not a disk image: it cannot be a mirror member"},
	{"EWF2 logical evidence (Lx01)", func(h, _ []byte) bool { return at(h, 0, "LEF2\r\n\x81\x00") },
		"holds files, not a disk image: it cannot be a mirror member"},
	{"AFF image", func(h, _ []byte) bool { return at(h, 0, "AFF10\r\n\x00") },
		"is not supported: convert it to raw (affconvert) first"},
	{"VirtualBox VDI", func(h, _ []byte) bool { return at(h, 0x40, "\x7f\x10\xda\xbe") },
		"is not supported: convert it with qemu-img convert -O raw (or VBoxManage clonemedium --format RAW)"},
	{"QED image", func(h, _ []byte) bool { return at(h, 0, "QED\x00") },
		"is not supported: convert it with qemu-img convert -O raw"},
	{"qcow version 1 image", func(h, _ []byte) bool { return at(h, 0, "QFI\xfb\x00\x00\x00\x01") },
		"is not supported: convert it with qemu-img convert -O raw"},
	{"Parallels image", func(h, _ []byte) bool { return at(h, 0, "WithoutFreeSpace") || at(h, 0, "WithouFreSpacExt") },
		"is not supported: convert it with qemu-img convert -O raw"},
	{"VMware ESX COW disk (COWD)", func(h, _ []byte) bool { return at(h, 0, "COWD") },
		"is not supported: convert it with qemu-img convert -O raw"},
	{"Android sparse image", func(h, _ []byte) bool { return at(h, 0, "\x3a\xff\x26\xed") },
		"convert it first (simg2img)"},
	{"Apple disk image (DMG)", func(_, t []byte) bool { return len(t) == tailSize && at(t, 0, "koly") },
		"is not supported: convert it to raw first (e.g. dmg2img)"},
}

// UnsupportedError is an input recognised as a format mirrorchk does not
// read. It is never read as raw.
type UnsupportedError struct {
	Path   string
	Format string
	What   string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Path, e.Format, e.What)
}

// ErrUnsupported matches every *UnsupportedError with errors.Is.
var ErrUnsupported = errors.New("unsupported input format")

func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// headTail reads the first headSize and last tailSize bytes of r (fewer
// when it is shorter).
func headTail(r io.ReaderAt, size int64) (head, tail []byte, err error) {
	head = make([]byte, min(size, headSize))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	tail = make([]byte, min(size, tailSize))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return head, tail, nil
}

// detect returns the container the first file of path holds, nil for raw,
// or an error for a refused format or a file that cannot be read.
func detect(path string, s segment) (*container, error) {
	head, tail, err := headTail(s.f, s.size)
	if err != nil {
		return nil, &ReadError{Path: path, Off: 0, Len: headSize, Err: err}
	}
	return detectBytes(path, head, tail)
}

func detectBytes(path string, head, tail []byte) (*container, error) {
	for i := range containers {
		if containers[i].detect(head, tail) {
			return &containers[i], nil
		}
	}
	for _, r := range refusals {
		if r.match(head, tail) {
			return nil, &UnsupportedError{Path: path, Format: r.name, What: r.what}
		}
	}
	if bytes.HasPrefix(bytes.TrimLeft(head, "\xef\xbb\xbf \t\r\n"), []byte("# Disk DescriptorFile")) {
		// A VMDK descriptor when no VMDK reader is registered.
		return nil, &UnsupportedError{Path: path, Format: "VMDK descriptor", What: "is not supported by this build"}
	}
	return nil, nil
}
