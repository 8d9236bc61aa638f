package image

import (
	"fmt"
	"io"
)

// ReadFull reads exactly len(p) bytes at off from r. A short read is an
// error naming the offset, never zeros.
func ReadFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = fmt.Errorf("short read of %d bytes at byte %#x: %w", len(p), off, io.ErrUnexpectedEOF)
	}
	return err
}
