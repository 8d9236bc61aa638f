package image

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Disk is the virtual disk a container holds, as a reader package
// (image/ewf, image/vhd, …) returns it. Its methods may be called from
// several goroutines at once.
type Disk interface {
	// ReadAt reads the virtual disk with io.ReaderAt semantics. Bytes that
	// cannot be read are an error naming the file and offset, never zeros.
	ReadAt(p []byte, off int64) (int, error)
	// Size is the virtual disk's size in bytes.
	Size() int64
	// Extent reports whether the n > 0 bytes from off are all allocated
	// (they may hold data) or all unallocated (they read as zeros and need
	// not be read).
	Extent(off int64) (allocated bool, n int64, err error)
	// Format names the container and its variant, e.g. "qcow2 v3".
	Format() string
	// Warnings are findings that do not stop reading.
	Warnings() []string
}

// Range is a byte range of the virtual disk.
type Range struct{ Off, Len int64 }

// Info describes what an input was read from, for the report.
type Info struct {
	// Format is "raw", "split raw", or the container's Disk.Format.
	Format string
	// Container is the container family ("E01", "VHD", "VHDX", "qcow2",
	// "VMDK"), or "" for a raw input.
	Container string
	Warnings  []string
	// StoredHashes are the media hashes the container records (EWF: the
	// hash and digest sections), by algorithm ("md5", "sha1"), hex.
	StoredHashes map[string]string
	// Acquisition is the case metadata a container records (EWF header),
	// as ordered key/value pairs.
	Acquisition []KV
	// Unreadable are the byte ranges of the media the acquisition could
	// not read (EWF error2 section): zeros in the image, not data.
	Unreadable []Range
}

// KV is one named value.
type KV struct{ Key, Value string }

// container is one registered container format.
type container struct {
	name   string // family, e.g. "qcow2"
	detect func(head, tail []byte) bool
	// open reads the container from r; opener opens the other files it
	// names. The Info it returns needs no Format (taken from the Disk).
	open func(r io.ReaderAt, size int64, name string, opener func(string) (io.ReaderAt, int64, error)) (Disk, Info, error)
}

// Info returns what the image was read from.
func (im *Image) Info() Info { return im.info }

// Container reports whether the image is read through a container.
func (im *Image) Container() bool { return im.disk != nil }

// openContainer reads the container whose first file is first.
func openContainer(path string, first segment, c *container) (*Image, error) {
	im := &Image{path: path, files: []segment{first}}
	dir := filepath.Dir(path)
	opener := func(name string) (io.ReaderAt, int64, error) {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		s, err := openSegment(p)
		if err != nil {
			return nil, 0, err
		}
		for _, f := range im.files {
			if sameFile(f.fi, s.fi) {
				s.f.Close()
				return nil, 0, fmt.Errorf("%s: already read as part of %s (a loop in the container's references)", p, path)
			}
		}
		im.files = append(im.files, s)
		return s.f, s.size, nil
	}
	d, info, err := c.open(first.f, first.size, path, opener)
	if err != nil {
		im.Close()
		if strings.HasPrefix(err.Error(), path+": ") {
			return nil, err // the reader named the file already
		}
		return nil, fmt.Errorf("%s: %s: %w", path, c.name, err)
	}
	info.Format = d.Format()
	info.Container = c.name
	info.Warnings = append(info.Warnings, d.Warnings()...)
	im.disk, im.info, im.size = d, info, d.Size()
	if im.size <= 0 {
		im.Close()
		return nil, fmt.Errorf("%s: %s: virtual disk of %d bytes", path, c.name, im.size)
	}
	return im, nil
}

// ContainerError is a failure to read the virtual disk that lies in the
// container's own structure (a table entry past the end of a truncated
// file, a chunk that does not decompress), not in reading the media: the
// evidence file is damaged, and the image cannot be read as a whole. It is
// an operational error, unlike an I/O error of the underlying file (a
// ReadError), which makes only the bytes it covers unreadable.
type ContainerError struct {
	Path string
	Off  int64 // byte offset in the virtual disk
	Err  error
}

func (e *ContainerError) Error() string {
	if msg := e.Err.Error(); strings.HasPrefix(msg, e.Path+": ") {
		return fmt.Sprintf("%s (reading the virtual disk at byte %#x)", msg, e.Off)
	}
	return fmt.Sprintf("%s: reading the virtual disk at byte %#x: %v", e.Path, e.Off, e.Err)
}

func (e *ContainerError) Unwrap() error { return e.Err }

// NotMediaError marks the error as one of the container, not of the media.
func (e *ContainerError) NotMediaError() bool { return true }

// readDisk reads the container's virtual disk.
func (im *Image) readDisk(p []byte, off int64) (int, error) {
	n, err := im.disk.ReadAt(p, off)
	if err != nil && err != io.EOF {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			// The file under the container failed: those bytes are
			// unreadable, as on a raw image.
			return n, &ReadError{Path: im.path, Off: off + int64(n), Len: len(p) - n, Err: err}
		}
		return n, &ContainerError{Path: im.path, Off: off + int64(n), Err: err}
	}
	if n < len(p) && err == nil {
		err = io.EOF
	}
	return n, err
}

// seekDisk answers NextData (data) or NextHole (!data) from the
// container's allocation map.
func (im *Image) seekDisk(off int64, data bool) (int64, error) {
	for off < im.size {
		alloc, n, err := im.disk.Extent(off)
		if err != nil {
			return 0, fmt.Errorf("%s: allocation map at byte %#x: %w", im.path, off, err)
		}
		if n <= 0 {
			return 0, fmt.Errorf("%s: allocation map at byte %#x: empty run", im.path, off)
		}
		if alloc == data {
			return off, nil
		}
		off += n
	}
	return im.size, nil
}

// File is one file an image was read from, with its own hashes.
type File struct {
	Path   string
	Size   int64
	Hashes map[string]string // by algorithm, hex
}

// FileHashes returns what the last HashFiles computed, or nil.
func (im *Image) FileHashes() []File { return im.fileHashes }

// HashFiles reads every file of the image once and hashes it with each of
// algs ("sha256", "sha1", "md5"); FileHashes returns the result later.
func (im *Image) HashFiles(algs []string) ([]File, error) {
	out := make([]File, 0, len(im.files))
	for _, s := range im.files {
		if s.f == nil {
			return nil, fmt.Errorf("%s: %w", s.path, os.ErrClosed)
		}
		hs := make([]hash.Hash, len(algs))
		ws := make([]io.Writer, len(algs))
		for i, a := range algs {
			h, err := newHash(a)
			if err != nil {
				return nil, err
			}
			hs[i], ws[i] = h, h
		}
		got, err := io.Copy(io.MultiWriter(ws...), io.NewSectionReader(s.f, 0, s.size))
		if err == nil && got < s.size {
			err = fmt.Errorf("short read, %d of %d bytes (file is shorter than when opened): %w", got, s.size, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, &ReadError{Path: s.path, Off: got, Len: int(min(s.size-got, 1<<30)), Err: err}
		}
		f := File{Path: s.path, Size: s.size, Hashes: map[string]string{}}
		for i, a := range algs {
			f.Hashes[a] = hex.EncodeToString(hs[i].Sum(nil))
		}
		out = append(out, f)
	}
	im.fileHashes = out
	return out, nil
}

// FilesSize is the total size of the files the image was read from.
func (im *Image) FilesSize() int64 {
	var n int64
	for _, s := range im.files {
		n += s.size
	}
	return n
}

func newHash(alg string) (hash.Hash, error) {
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("unknown hash %q", alg)
}

// SegmentSizes returns the size of every file of Segments, in order.
func (im *Image) SegmentSizes() []int64 {
	out := make([]int64, len(im.files))
	for i, s := range im.files {
		out[i] = s.size
	}
	return out
}
