package md

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// BitmapMagic is the first word of a write-intent bitmap superblock ("bitm").
const BitmapMagic = 0x6d746962

// Bitmap state bits (Bitmap.State).
const (
	BitmapStale      = 1 << 1
	BitmapWriteError = 1 << 2
)

// Byte offsets in bitmap_super_t (little endian).
const (
	obVersion       = 4
	obUUID          = 8
	obEvents        = 24
	obEventsCleared = 32
	obSyncSize      = 40
	obState         = 48
	obChunkSize     = 52
	obDaemonSleep   = 56
	obWriteBehind   = 60
	obReserved      = 64
	bitmapHeader    = 256
)

// Version 6 is the kernel's lockless bitmap (md-llbitmap.c): it keeps one
// state byte per chunk from 1 KiB after the bitmap superblock and records
// chunksize in sectors.
const (
	bitmapLockless = 6
	llDataOffset   = 1024
	llUnwritten    = 0
	llClean        = 1
)

// Bitmap is a member's internal write-intent bitmap.
type Bitmap struct {
	Offset                                    int64    // byte offset of the bitmap superblock in the image
	Version                                   uint32   // 3 (host-endian bits), 4, 5 (clustered), 6 (lockless)
	UUID                                      [16]byte // array uuid as the bitmap records it
	Events, EventsCleared                     uint64   // events at the last bitmap write / when bits were last cleared
	SyncSize                                  int64    // bytes covered (sync_size sectors * 512)
	State                                     uint32   // BitmapStale, BitmapWriteError, ...
	ChunkSize                                 int64    // bytes of data per bit
	DaemonSleep, WriteBehind, SectorsReserved uint32   // flush period in seconds; write-behind limit; sectors reserved for the bitmap (0: not recorded)
	NBits                                     int64    // ceil(SyncSize / ChunkSize)
	Bits                                      []byte   // NBits bits, LSB first: bit k set means chunk k may differ between members
	Raw                                       []byte   // the bitmap as stored: superblock (256 bytes; 1 KiB for version 6) + bits (version 6: a state byte per chunk)
}

// maxBitmapBytes caps the bit table read into memory. mdadm's internal
// bitmaps fit in at most 128 KiB; 16 MiB of bits covers 8 PiB at 64 MiB
// chunks or 8 TiB at 64 KiB chunks.
const maxBitmapBytes = 16 << 20

// ReadBitmap reads the internal bitmap of the member whose superblock is sb.
// It checks the magic, version 3..6, that the chunk size is a power of two
// of at least 512 bytes, that the bits fit in the space the layout leaves
// for them and in the image, and that the uuid is the array's; anything
// else is a *FormatError; a superblock without a bitmap gives ErrNoBitmap.
// Version 3 bits are read as written by a little-endian host; version 5
// (clustered) gives the first node's bitmap only; in version 6 (lockless) a
// chunk is dirty unless its state byte says unwritten or clean.
func ReadBitmap(r io.ReaderAt, size int64, sb *Superblock) (*Bitmap, error) {
	if sb == nil || !sb.HasBitmap {
		return nil, ErrNoBitmap
	}
	start, hi, err := bitmapSpace(sb, size)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, bitmapHeader)
	if err := readFull(r, hdr, start); err != nil {
		return nil, err
	}
	b := &Bitmap{
		Offset:          start,
		Version:         le.Uint32(hdr[obVersion:]),
		Events:          le.Uint64(hdr[obEvents:]),
		EventsCleared:   le.Uint64(hdr[obEventsCleared:]),
		State:           le.Uint32(hdr[obState:]),
		DaemonSleep:     le.Uint32(hdr[obDaemonSleep:]),
		WriteBehind:     le.Uint32(hdr[obWriteBehind:]),
		SectorsReserved: le.Uint32(hdr[obReserved:]),
	}
	copy(b.UUID[:], hdr[obUUID:])
	if m := le.Uint32(hdr); m != BitmapMagic {
		return nil, &FormatError{Off: start, Field: "magic", Value: fmt.Sprintf("%#08x", m), Msg: fmt.Sprintf("is not %#x", BitmapMagic)}
	}
	if b.Version < 3 || b.Version > bitmapLockless {
		return nil, &FormatError{Off: start + obVersion, Field: "version", Value: b.Version, Msg: "is not 3..6"}
	}
	if b.UUID != sb.SetUUID {
		return nil, &FormatError{Off: start + obUUID, Field: "uuid", Value: uuidBytes(b.UUID), Msg: "differs from the array uuid " + uuidBytes(sb.SetUUID)}
	}
	chunk := le.Uint32(hdr[obChunkSize:])
	b.ChunkSize = int64(chunk)
	if b.Version == bitmapLockless {
		b.ChunkSize *= 512
	}
	if b.ChunkSize < 512 || b.ChunkSize&(b.ChunkSize-1) != 0 {
		return nil, &FormatError{Off: start + obChunkSize, Field: "chunksize", Value: chunk, Msg: "is not a power of two of at least 512 bytes"}
	}
	sync := le.Uint64(hdr[obSyncSize:])
	if sync > math.MaxInt64/512 {
		return nil, &FormatError{Off: start + obSyncSize, Field: "sync_size", Value: sync, Msg: "sectors overflows a byte count"}
	}
	b.SyncSize = int64(sync) * 512
	// The bitmap covers the array's data: more than the member's data area
	// is impossible, and trusting it would size the bit table from a lie.
	if limit := max(sb.DataSize+sb.Missing, sb.Size); b.SyncSize > limit {
		return nil, &FormatError{Off: start + obSyncSize, Field: "sync_size", Value: sync, Msg: fmt.Sprintf("sectors exceeds the %d-byte data area", limit)}
	}
	b.NBits = b.SyncSize / b.ChunkSize
	if b.SyncSize%b.ChunkSize != 0 {
		b.NBits++
	}
	dataOff, nbytes := int64(bitmapHeader), (b.NBits+7)/8
	if b.Version == bitmapLockless {
		dataOff, nbytes = llDataOffset, b.NBits
	}
	if b.SectorsReserved > 0 {
		hi = min(hi, start+int64(b.SectorsReserved)*512)
	}
	if hi-start < dataOff || nbytes > hi-start-dataOff {
		return nil, &FormatError{Off: start + obSyncSize, Field: "sync_size", Value: sync,
			Msg: fmt.Sprintf("sectors in %d-byte chunks need %d bitmap bytes from byte %#x, past the end of the bitmap space at byte %#x", b.ChunkSize, dataOff+nbytes, start, hi)}
	}
	if nbytes > maxBitmapBytes {
		return nil, &FormatError{Off: start + obChunkSize, Field: "chunksize", Value: chunk,
			Msg: fmt.Sprintf("gives %d bitmap bytes for %d data bytes, more than the %d mirrorchk reads", nbytes, b.SyncSize, maxBitmapBytes)}
	}
	if b.Raw, err = readChunked(r, start, dataOff+nbytes); err != nil {
		return nil, err
	}
	if b.Version == bitmapLockless {
		b.Bits = make([]byte, (b.NBits+7)/8)
		for k, s := range b.Raw[dataOff:] {
			// Unwritten and clean chunks agree on all members; any other
			// state, known or not, makes the kernel resync the chunk.
			if s != llUnwritten && s != llClean {
				b.Bits[k>>3] |= 1 << (k & 7)
			}
		}
	} else {
		b.Bits = bytes.Clone(b.Raw[dataOff:])
	}
	return b, nil
}

// bitmapSpace returns where sb's bitmap starts and the byte where the space
// the layout leaves for it ends.
func bitmapSpace(sb *Superblock, size int64) (start, hi int64, err error) {
	var lo int64
	if sb.Version == V090 {
		// Inside the 64 KiB reserved area, after the 4 KiB superblock.
		start = sb.Offset + sb090Bytes
		lo, hi = start, sb.Offset+sb090Reserved
	} else {
		bo := int64(sb.BitmapOffset) * 512
		start = sb.Offset + bo
		switch {
		case bo > 0:
			lo = sb.Offset + (int64(len(sb.Raw))+511)&^511
			if sb.DataOffset > sb.Offset {
				hi = sb.DataOffset // 1.1, 1.2: between superblock and data
			} else {
				hi = sb.Offset + sb1Block // 1.0 hot-added: within 4 KiB of the superblock
			}
		case bo < 0:
			hi = sb.Offset // 1.0: between data and superblock
			if sb.DataOffset < sb.Offset {
				lo = sb.DataOffset + sb.DataSize
			}
		default:
			return 0, 0, &FormatError{Off: sb.Offset + o1BitmapOffset, Field: "bitmap_offset", Value: sb.BitmapOffset, Msg: "puts the bitmap on the superblock"}
		}
		// The bitmap must not overlap the bad-block log.
		if len(sb.Raw) >= sb1Header {
			bbSize := int64(le.Uint16(sb.Raw[186:]))
			bbStart := sb.Offset + int64(int32(le.Uint32(sb.Raw[188:])))*512
			switch bbEnd := bbStart + bbSize*512; {
			case bbSize == 0:
			case bbStart >= start:
				hi = min(hi, bbStart)
			case start < bbEnd:
				lo = max(lo, bbEnd)
			}
		}
	}
	hi = min(hi, size)
	if start < lo || start > hi-bitmapHeader {
		off := sb.Offset + o1BitmapOffset
		if sb.Version == V090 {
			off = sb.Offset + o090State
		}
		return 0, 0, &FormatError{Off: off, Field: "bitmap_offset", Value: sb.BitmapOffset,
			Msg: fmt.Sprintf("sectors puts the bitmap at byte %#x, outside the space from byte %#x to %#x", start, lo, hi)}
	}
	return start, hi, nil
}

// Dirty reports whether bit k is set: chunk k, data-area bytes
// [k*ChunkSize, (k+1)*ChunkSize), may differ between members.
func (b *Bitmap) Dirty(k int64) bool {
	if k < 0 || k >= b.NBits || k>>3 >= int64(len(b.Bits)) {
		return false
	}
	return b.Bits[k>>3]&(1<<(k&7)) != 0
}

// DirtyCount returns the number of set bits among the NBits.
func (b *Bitmap) DirtyCount() int64 {
	n := min(b.NBits, int64(len(b.Bits))*8)
	if n <= 0 {
		return 0
	}
	var c int
	full := n / 8
	for _, x := range b.Bits[:full] {
		c += bits.OnesCount8(x)
	}
	if rest := n % 8; rest != 0 {
		c += bits.OnesCount8(b.Bits[full] & (1<<rest - 1))
	}
	return int64(c)
}

// Covers reports whether every chunk overlapping the data-area byte range
// [off, off+length) is dirty; an empty range is covered.
func (b *Bitmap) Covers(off, length int64) bool {
	if length <= 0 {
		return true
	}
	if off < 0 || b.ChunkSize <= 0 || length-1 > math.MaxInt64-off {
		return false
	}
	last := (off + length - 1) / b.ChunkSize
	if last >= b.NBits {
		return false
	}
	for k := off / b.ChunkSize; k <= last; k++ {
		if !b.Dirty(k) {
			return false
		}
	}
	return true
}

// Clean returns the bitmap's raw bytes (same length as b.Raw, to be written
// at b.Offset) with every chunk marked clean, events and events_cleared set
// to events, and the stale state bit cleared (version 6: every chunk that is
// not unwritten becomes clean). Bits past NBits are left as they are.
func (b *Bitmap) Clean(events uint64) []byte {
	out := bytes.Clone(b.Raw)
	if len(out) < bitmapHeader {
		return out
	}
	le.PutUint64(out[obEvents:], events)
	le.PutUint64(out[obEventsCleared:], events)
	le.PutUint32(out[obState:], le.Uint32(out[obState:])&^BitmapStale)
	if b.Version == bitmapLockless {
		if len(out) >= llDataOffset {
			for k, s := range out[llDataOffset:] {
				if int64(k) < b.NBits && s != llUnwritten {
					out[llDataOffset+k] = llClean
				}
			}
		}
		return out
	}
	bitsOut := out[bitmapHeader:]
	for k := int64(0); k < b.NBits && k>>3 < int64(len(bitsOut)); k++ {
		bitsOut[k>>3] &^= 1 << (k & 7)
	}
	return out
}
