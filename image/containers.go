package image

import (
	"io"

	"github.com/mirrorchk/mirrorchk/image/qcow2"
	"github.com/mirrorchk/mirrorchk/image/vhd"
)

// opener opens another file a container names, relative to the first.
type opener = func(name string) (io.ReaderAt, int64, error)

// containers are the container formats read, in the order their Detect
// functions are tried: formats with a magic at offset 0 first, VHD (whose
// fixed variant has its only footer at the end) last. One entry per reader
// package under image/.
var containers = []container{
	{"qcow2", qcow2.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := qcow2.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
	{"VHD", vhd.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := vhd.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
}
