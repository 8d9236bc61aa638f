package vmdk

import "github.com/mirrorchk/mirrorchk/image/internal/readahead"

// grainKey names a grain: its sparse extent and the host offset of its
// compressed data.
type grainKey struct {
	sp   *sparse
	host int64
}

// batch is the grains decompressed ahead for one window.
type batch = readahead.Batch[grainKey]

// readAhead is called by a read of n bytes at off that has compressed
// grains. It returns the batch started for this window by the previous
// read (nil if none) and, when this read continues the previous one,
// starts decompressing the compressed grains of the next window, within
// the virtual size.
func (d *Disk) readAhead(off, n int64) batch {
	return d.ahead.Next(off, n, d.size, func(pos int64) (int64, readahead.Block[grainKey], bool, error) {
		pc, err := d.lookup(pos)
		if err != nil || pc.kind != kCompressed {
			return pc.n, readahead.Block[grainKey]{}, false, err
		}
		sp := pc.x.sp
		return pc.n, readahead.Block[grainKey]{Key: grainKey{sp, pc.host}, Size: sp.grain, Decode: func(b []byte) error { return sp.decode(b, pc) }}, true, nil
	})
}
