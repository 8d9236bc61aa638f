// Package image opens mirrorchk's inputs: raw image files, block devices,
// split raw sets (disk.001, disk.002, ...) read as one image, and the
// evidence containers registered in containers.go (E01, VHD, VHDX, qcow2,
// VMDK), each read as the virtual disk it holds.
//
// The format of an input is decided by its content (detect.go), never by
// its name; an input that is plainly something else (a compressed stream,
// an unsupported container) is refused, never read as raw. Package image
// knows no format above the disk: set metadata, partitions and filesystems
// are read by the layers above from the virtual disk. Inputs are evidence:
// every file is opened with os.O_RDONLY and nothing in this package can
// write to it.
package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Image is one input: a raw image file or block device, or a split raw set
// read as one image. Its methods may be called from several goroutines at
// once, except Close and Relabel.
type Image struct {
	path string
	segs []segment // raw: in order; segs[i].off is the image offset of its first byte
	size int64
	// A container's virtual disk, or nil for a raw image. files are then
	// the evidence files it was read from (segs is empty).
	disk       Disk
	files      []segment
	info       Info
	fileHashes []File // from HashFiles
	// withheld are ranges whose reads fail while set (Withhold).
	withheld []Range
}

// ErrWithheld is the error of a read of a withheld range (Withhold).
var ErrWithheld = errors.New("not read: the acquisition could not read these bytes (ddrescue mapfile or the container's error section), so what the image holds there is not evidence")

// Withhold makes every read that touches one of rs fail with a *ReadError
// wrapping ErrWithheld, until Withhold is called again with none. While an
// image's set metadata and identity are read, the bytes an acquisition
// could not read are not taken as evidence, whatever the file holds there
// (ddrescue leaves zeros or an earlier pass's data). Like Relabel, it must
// not be called while the image is being read.
func (im *Image) Withhold(rs []Range) { im.withheld = rs }

// segment is one file of an image.
type segment struct {
	path string
	f    *os.File
	fi   os.FileInfo // from fstat of f, for SameFile
	off  int64       // image offset of the segment's first byte
	size int64
}

// Open opens the image at path, read-only.
//
// A path whose base name ends in a numeric suffix of three or more digits,
// ".000" or ".001", is the first segment of a split raw set when the file
// with the next number exists: the consecutive segments up to the first
// missing number are opened and read as one image. Segments may differ in
// size. Open refuses "x.001" when "x.000" exists, since that would silently
// leave out the first segment.
//
// Regular files and block devices are accepted; a missing file, a
// directory, an empty file or any other kind of file is an error that
// names the file.
func Open(path string) (*Image, error) {
	first, err := openSegment(path)
	if err != nil {
		return nil, err
	}
	kind, err := detect(path, first)
	if err != nil {
		first.f.Close()
		return nil, err
	}
	if kind != nil {
		return openContainer(path, first, kind)
	}
	first.f.Close()
	return openRaw(path)
}

// openRaw opens path as a raw image or split raw set.
func openRaw(path string) (*Image, error) {
	paths, err := segmentPaths(path)
	if err != nil {
		return nil, err
	}
	im := &Image{path: path, info: Info{Format: "raw"}}
	if len(paths) > 1 {
		im.info.Format = "split raw"
	}
	for _, p := range paths {
		s, err := openSegment(p)
		if err != nil {
			im.Close()
			return nil, err
		}
		s.off = im.size
		im.size += s.size
		im.segs = append(im.segs, s)
	}
	im.files = im.segs
	return im, nil
}

// segmentPaths returns the files of the image named by path: path alone,
// or the segments of a split raw set that path starts.
func segmentPaths(path string) ([]string, error) {
	prefix, n, width, ok := splitSuffix(path)
	if !ok || n > 1 {
		return []string{path}, nil
	}
	name := func(n int) string { return prefix + fmt.Sprintf("%0*d", width, n) }
	if n == 1 {
		ok, err := exists(name(0))
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, fmt.Errorf("%s: %s exists: give the first segment of the split image", path, filepath.Base(name(0)))
		}
	}
	paths := []string{path}
	for i := n + 1; ; i++ {
		ok, err := exists(name(i))
		if err != nil {
			return nil, err
		}
		if !ok {
			return paths, nil
		}
		paths = append(paths, name(i))
	}
}

// splitSuffix splits "disk.001" into "disk.", 1 and the digit count 3.
func splitSuffix(path string) (prefix string, n, width int, ok bool) {
	dot := len(path) - 1
	for dot >= 0 && path[dot] >= '0' && path[dot] <= '9' {
		dot--
	}
	width = len(path) - 1 - dot
	if dot < 1 || path[dot] != '.' || width < 3 || path[dot-1] == '/' {
		return "", 0, 0, false
	}
	n, err := strconv.Atoi(path[dot+1:])
	if err != nil {
		return "", 0, 0, false
	}
	return path[:dot+1], n, width, true
}

// exists reports whether path exists; an error other than "does not
// exist" (a permission problem) is returned rather than taken for the end
// of a split set.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, pathError(path, err)
	}
	return true, nil
}

// openSegment opens one file read-only and sizes it.
func openSegment(path string) (segment, error) {
	// Check the type before opening: opening a named pipe would block.
	fi, err := os.Stat(path)
	if err != nil {
		return segment{}, pathError(path, err)
	}
	if err := checkMode(path, fi.Mode()); err != nil {
		return segment{}, err
	}
	f, err := openReadOnly(path)
	if err != nil {
		return segment{}, pathError(path, err)
	}
	s := segment{path: path, f: f}
	if s.fi, err = f.Stat(); err != nil {
		f.Close()
		return segment{}, pathError(path, err)
	}
	if err := checkMode(path, s.fi.Mode()); err != nil {
		f.Close()
		return segment{}, err
	}
	if !os.SameFile(fi, s.fi) {
		f.Close()
		return segment{}, fmt.Errorf("%s: file was replaced while being opened", path)
	}
	if s.fi.Mode().IsRegular() {
		s.size = s.fi.Size()
	} else if s.size, err = f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return segment{}, pathError(path, err)
	}
	if s.size == 0 {
		f.Close()
		return segment{}, fmt.Errorf("%s: empty file", path)
	}
	return s, nil
}

// openReadOnly opens path with O_RDONLY, and O_NOATIME where the kernel
// allows it (the owner or root), so that reading evidence does not even
// change its access time.
func openReadOnly(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		f, err = os.OpenFile(path, os.O_RDONLY, 0)
	}
	return f, err
}

func checkMode(path string, m fs.FileMode) error {
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%s: is a directory", path)
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return nil // block device
	case m&fs.ModeCharDevice != 0:
		return fmt.Errorf("%s: is a character device, not an image file or block device", path)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s: is a named pipe, not an image file or block device", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s: is a socket, not an image file or block device", path)
	}
	return fmt.Errorf("%s: not a regular file or block device (mode %v)", path, m)
}

// pathError drops the operation from an *fs.PathError ("open x: ...")
// so that messages read "x: no such file or directory".
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// Path returns the path the image was opened with.
func (im *Image) Path() string { return im.path }

// Segments returns the path of every file the image was read from, in
// order: one for a plain image, each segment of a split raw set, and for a
// container every file of it (EWF segments, VMDK extents, parent and
// backing files).
func (im *Image) Segments() []string {
	paths := make([]string, len(im.files))
	for i, s := range im.files {
		paths[i] = s.path
	}
	return paths
}

// Size returns the image's size in bytes: the sum of its segments' sizes
// when it was opened.
func (im *Image) Size() int64 { return im.size }

// Close closes every file of the image.
func (im *Image) Close() error {
	var first error
	for i := range im.files {
		if im.files[i].f == nil {
			continue
		}
		if err := im.files[i].f.Close(); err != nil && first == nil {
			first = pathError(im.files[i].path, err)
		}
		im.files[i].f = nil
	}
	return first
}

// ReadError is a failure to read bytes that the image should hold: an I/O
// error, or a file that has become shorter since it was opened. Path is the
// file that failed (a segment of a split image) and Off the byte offset in
// that file.
type ReadError struct {
	Path string
	Off  int64
	Len  int
	Err  error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("%s: read %d bytes at byte %#x: %v", e.Path, e.Len, e.Off, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// ReadAt reads len(p) bytes at image offset off, across segment
// boundaries, with io.ReaderAt semantics: fewer bytes and io.EOF at the end
// of the image. Bytes that cannot be read are a *ReadError, never zeros.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: read at negative offset %d", im.path, off)
	}
	end := off + int64(len(p))
	first, last := int64(-1), int64(0)
	for _, r := range im.withheld {
		if from := max(r.Off, off); r.Off < end && off < r.Off+r.Len && (first < 0 || from < first) {
			first, last = from, min(end, r.Off+r.Len)
		}
	}
	if first >= 0 {
		n, err := im.read(p[:first-off], off)
		if err != nil {
			return n, err
		}
		return n, &ReadError{Path: im.path, Off: first, Len: int(last - first), Err: ErrWithheld}
	}
	return im.read(p, off)
}

// read is ReadAt without the withheld ranges.
func (im *Image) read(p []byte, off int64) (int, error) {
	if im.disk != nil {
		return im.readDisk(p, off)
	}
	n := 0
	for i := im.segIndex(off); len(p) > 0; i++ {
		if i >= len(im.segs) {
			return n, io.EOF
		}
		s := &im.segs[i]
		if s.f == nil {
			return n, fmt.Errorf("%s: %w", s.path, os.ErrClosed)
		}
		local := off - s.off
		m := int(min(int64(len(p)), s.size-local))
		got, err := s.f.ReadAt(p[:m], local)
		n += got
		if got < m {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("short read, %d of %d bytes (file is shorter than when opened): %w", got, m, io.ErrUnexpectedEOF)
			} else {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
			}
			return n, &ReadError{Path: s.path, Off: local + int64(got), Len: m - got, Err: err}
		}
		p = p[m:]
		off += int64(m)
	}
	return n, nil
}

// segIndex returns the index of the segment holding image offset off, or
// len(im.segs) when off is at or past the end.
func (im *Image) segIndex(off int64) int {
	return sort.Search(len(im.segs), func(i int) bool {
		return im.segs[i].off+im.segs[i].size > off
	})
}

// NextData returns the offset of the first byte at or after off that may
// hold data, or Size when the rest of the image is a hole. Bytes between off
// and the result read as zeros. Where the file system cannot report holes,
// every byte may hold data and NextData returns off.
func (im *Image) NextData(off int64) (int64, error) {
	return im.seek(off, unix.SEEK_DATA)
}

// NextHole returns the offset of the first byte at or after off that lies
// in a hole, or Size when there is none before the end. Where the file
// system cannot report holes, it returns Size.
func (im *Image) NextHole(off int64) (int64, error) {
	return im.seek(off, unix.SEEK_HOLE)
}

func (im *Image) seek(off int64, whence int) (int64, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: seek to negative offset %d", im.path, off)
	}
	if im.disk != nil {
		return im.seekDisk(off, whence == unix.SEEK_DATA)
	}
	for i := im.segIndex(off); i < len(im.segs); i++ {
		s := &im.segs[i]
		if s.f == nil {
			return 0, fmt.Errorf("%s: %w", s.path, os.ErrClosed)
		}
		local := max(off-s.off, 0)
		r, err := s.f.Seek(local, whence)
		switch {
		case err == nil:
			r = max(r, local) // a file system must not answer before local
		case errors.Is(err, syscall.ENXIO):
			// SEEK_DATA: no data at or after local. SEEK_HOLE: local is at or
			// past the end (the file shrank); its implicit hole is no hole of
			// the image.
			r = s.size
		case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP):
			// No hole support: all data.
			if whence == unix.SEEK_DATA {
				r = local
			} else {
				r = s.size
			}
		default:
			return 0, pathError(s.path, err)
		}
		// A segment ends in an implicit hole at its end of file; only a
		// hole before that, or data, is an answer.
		if r < s.size {
			return s.off + r, nil
		}
	}
	return im.size, nil
}

// SameFile reports whether im and other share any file: the same image
// given twice, or two images that overlap.
func (im *Image) SameFile(other *Image) bool {
	for _, s := range other.files {
		if im.Contains(s.fi) {
			return true
		}
	}
	return false
}

// Contains reports whether fi describes one of the image's files, for
// refusing an output path that would overwrite an input. Two device nodes
// of the same block device count as the same file.
func (im *Image) Contains(fi os.FileInfo) bool {
	for _, s := range im.files {
		if sameFile(s.fi, fi) {
			return true
		}
	}
	return false
}

func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	if os.SameFile(a, b) {
		return true
	}
	const block = fs.ModeDevice
	if a.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != block || b.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != block {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Rdev == sb.Rdev
}
