package check

import (
	"io"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/fs/ext4"
	"github.com/mirrorchk/mirrorchk/fs/fat"
	"github.com/mirrorchk/mirrorchk/fs/ntfs"
	"github.com/mirrorchk/mirrorchk/fs/xfs"
)

// DefaultOpeners are the filesystem readers Check tries when
// Options.Openers is nil. NTFS goes first: its boot sector also passes a
// loose FAT BPB check.
var DefaultOpeners = []Opener{
	{Name: "ntfs", Open: func(r io.ReaderAt, size int64) (fs.Volume, error) {
		v, err := ntfs.Open(r, size)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return v, nil
	}},
	{Name: "ext4", Open: func(r io.ReaderAt, size int64) (fs.Volume, error) {
		v, err := ext4.Open(r, size)
		if err != nil {
			return nil, err
		}
		return v, nil
	}},
	{Name: "xfs", Open: func(r io.ReaderAt, size int64) (fs.Volume, error) {
		v, err := xfs.Open(r, size)
		if err != nil {
			return nil, err
		}
		return v, nil
	}},
	{Name: "fat", Open: func(r io.ReaderAt, size int64) (fs.Volume, error) {
		v, err := fat.Open(r, size)
		if err != nil {
			return nil, err
		}
		return v, nil
	}},
}
