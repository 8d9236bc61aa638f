package ewf

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"hash/adler32"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Disk is the media of an EWF segment set. Its methods may be called from
// several goroutines at once.
//
// ReadAt returns the bytes the image stores. For the sectors listed by
// Unreadable (the error2 section) those are the zeros the acquiring
// program wrote in place of what it could not read: callers must treat
// those ranges as unknown, not as zeros.
type Disk struct {
	name      string
	segs      []*segment
	format    string
	vol       volume
	size      int64
	bps       int64
	chunkSize int64
	chunks    int64
	tables    []*table

	header     Header
	hasHeader  bool
	md5, sha1  []byte
	unreadable []Range

	wmu      sync.Mutex
	warnings []string

	// chunk cache and read-ahead
	cmu     sync.Mutex
	cache   map[int64]*slot
	lru     list.List // of *slot, most recent first
	cap     int       // slots kept
	ahead   int64     // chunks inflated ahead of a sequential reader
	batch   int       // chunks per read-ahead goroutine
	sem     chan struct{}
	lastEnd atomic.Int64

	// table entry windows
	tmu     sync.Mutex
	windows map[winKey]*list.Element
	wlru    list.List // of *window

	inPool sync.Pool // *[]byte, stored chunk bytes
	zPool  sync.Pool // io.ReadCloser implementing zlib.Resetter
}

// table is one table section: the offsets of a run of chunks.
type table struct {
	seg         *segment
	first       int64 // number of its first chunk
	n           int64 // entries
	base        int64 // table base offset (0 before EnCase 6)
	off         int64 // file offset of the table section descriptor
	entOff      int64 // file offset of the entry array
	lo, hi      int64 // chunk data lies in [lo, hi) of the file
	footer      bool  // an Adler-32 of the entries follows them
	footerMaybe bool  // EWF/SMART/EnCase 1 layout: chunks follow the entries in the section
	alt         int64 // file offset of the table2 entry array, 0 when none
	altOff      int64 // file offset of the table2 section descriptor

	once sync.Once
	err  error
	use  int64 // entry array in use: entOff or alt
	over int64 // first entry past the EnCase 6.7.1 31-bit overflow; n when none
}

const winEntries = 16384 // table entries per cached window (64 KiB)

type winKey struct {
	t *table
	w int64
}

type window struct {
	key winKey
	e   []uint32 // entries w*winEntries … plus the next one when there is one
}

type slot struct {
	claimed atomic.Bool // a goroutine fills it
	c       int64
	ready   chan struct{}
	data    []byte
	err     error
	elem    *list.Element
}

const (
	cacheBytes = 16 << 20  // decoded chunks kept per Disk
	aheadBytes = 8 << 20   // read-ahead of a sequential reader
	batchBytes = 256 << 10 // chunks per read-ahead goroutine
	maxWindows = 64        // table windows kept (64 × 64 KiB)
	maxSlots   = 2048      // decoded chunks kept, whatever their size
)

func (d *Disk) initCache() {
	d.cache = make(map[int64]*slot)
	d.windows = make(map[winKey]*list.Element)
	d.cap = int(min(max(1, cacheBytes/d.chunkSize), maxSlots))
	d.ahead = min(int64(d.cap)/4, aheadBytes/d.chunkSize)
	d.batch = int(max(1, batchBytes/d.chunkSize))
	d.sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	d.lastEnd.Store(-1)
}

func (d *Disk) warn(s string) {
	d.wmu.Lock()
	d.warnings = append(d.warnings, s)
	d.wmu.Unlock()
}

// Size returns the media size in bytes: number of sectors × bytes per sector.
func (d *Disk) Size() int64 { return d.size }

// SectorSize returns the bytes per sector of the media.
func (d *Disk) SectorSize() int64 { return d.bps }

// ChunkSize returns the bytes per chunk (sectors per chunk × bytes per sector).
func (d *Disk) ChunkSize() int64 { return d.chunkSize }

// Format names the variant, e.g. "EWF-E01" or "EWF-S01 (SMART layout)".
func (d *Disk) Format() string { return d.format }

// Segments returns the names of the segment files, in order, as given to
// Open and to the OpenFunc.
func (d *Disk) Segments() []string {
	s := make([]string, len(d.segs))
	for i, g := range d.segs {
		s[i] = g.name
	}
	return s
}

// Warnings returns things to report that did not stop reading.
func (d *Disk) Warnings() []string {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return append([]string(nil), d.warnings...)
}

// StoredHashes returns the media MD5 and SHA-1 stored in the set (digest
// section, else hash section for MD5); nil when absent, all zero, or when
// the section failed its checksum (then Warnings says so). They are not
// recomputed here.
func (d *Disk) StoredHashes() (md5, sha1 []byte) {
	return append([]byte(nil), d.md5...), append([]byte(nil), d.sha1...)
}

// Header returns the acquisition metadata and whether the set has a
// readable header2 or header section.
func (d *Disk) Header() (Header, bool) {
	h := d.header
	if h.Values != nil {
		h.Values = make(map[string]string, len(d.header.Values))
		for k, v := range d.header.Values {
			h.Values[k] = v
		}
	}
	return h, d.hasHeader
}

// Unreadable returns the media byte ranges the acquiring program could not
// read (error2 section), sorted by offset. The image holds zeros there.
func (d *Disk) Unreadable() []Range { return append([]Range(nil), d.unreadable...) }

// Extent reports, for 0 <= off < Size, that the bytes from off to the end
// are allocated: EWF has no allocation map, every chunk is stored.
func (d *Disk) Extent(off int64) (allocated bool, n int64, err error) {
	if off < 0 || off >= d.size {
		return false, 0, fmt.Errorf("%s: EWF extent offset %d outside the media (size %d)", d.name, off, d.size)
	}
	return true, d.size - off, nil
}

// ReadAt reads media bytes with io.ReaderAt semantics. A chunk that cannot
// be read (bad checksum, corrupt zlib stream, offset outside its file, I/O
// error) is an error naming the segment file and offset; the bytes before
// it are returned.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: EWF read at negative offset %d", d.name, off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p = p[:d.size-off]
		eof = io.EOF
	}
	if len(p) == 0 {
		return 0, eof
	}
	end := off + int64(len(p))
	cs := d.chunkSize
	first, last := off/cs, (end-1)/cs
	limit := last
	if d.lastEnd.Swap(end) == off {
		// Sequential: inflate the chunks after this read too.
		limit = min(last+d.ahead, d.chunks-1)
	}
	sched := first + 1
	n := 0
	var batch []*slot
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := batch
		batch = nil
		go func() {
			d.sem <- struct{}{}
			for _, s := range b {
				d.claimFill(s)
			}
			<-d.sem
		}()
	}
	for c := first; c <= last; c++ {
		// Keep the chunks up to c+ahead requested, in batches for
		// goroutines that inflate them in parallel.
		sched = max(sched, c+1)
		for hi := min(limit, c+d.ahead); sched <= hi; sched++ {
			if s, created := d.slotFor(sched); created {
				batch = append(batch, s)
				if len(batch) >= d.batch {
					flush()
				}
			}
		}
		flush()
		// Inflate chunk c here unless a goroutine already does; then
		// wait for it.
		s, _ := d.slotFor(c)
		d.claimFill(s)
		<-s.ready
		if s.err != nil {
			return n, s.err
		}
		lo := off + int64(n) - c*cs
		n += copy(p[n:], s.data[lo:])
	}
	return n, eof
}

// slotFor returns the cache slot of chunk c, creating it (not yet filled)
// when absent.
func (d *Disk) slotFor(c int64) (*slot, bool) {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	if s := d.cache[c]; s != nil {
		d.lru.MoveToFront(s.elem)
		return s, false
	}
	s := &slot{c: c, ready: make(chan struct{})}
	s.elem = d.lru.PushFront(s)
	d.cache[c] = s
	// Evict the least recently used slots that are filled; a slot still
	// being filled stays until it is.
	for e := d.lru.Back(); e != nil && d.lru.Len() > d.cap; {
		prev := e.Prev()
		v := e.Value.(*slot)
		select {
		case <-v.ready:
			d.lru.Remove(e)
			delete(d.cache, v.c)
		default:
		}
		e = prev
	}
	return s, true
}

// claimFill fills s unless another goroutine has claimed it.
func (d *Disk) claimFill(s *slot) {
	if s.claimed.CompareAndSwap(false, true) {
		d.fill(s)
	}
}

func (d *Disk) fill(s *slot) {
	s.data, s.err = d.chunk(s.c)
	close(s.ready)
	if s.err != nil {
		// Do not keep errors: a later read tries again.
		d.cmu.Lock()
		if d.cache[s.c] == s {
			d.lru.Remove(s.elem)
			delete(d.cache, s.c)
		}
		d.cmu.Unlock()
	}
}

// chunkLen is the media bytes of chunk c: the chunk size, or less for the
// last chunk.
func (d *Disk) chunkLen(c int64) int64 {
	return min(d.chunkSize, d.size-c*d.chunkSize)
}

// chunk reads, inflates and checks chunk c.
func (d *Disk) chunk(c int64) ([]byte, error) {
	i := sort.Search(len(d.tables), func(i int) bool { return d.tables[i].first+d.tables[i].n > c })
	if i == len(d.tables) || c < d.tables[i].first {
		return nil, fmt.Errorf("%s: EWF chunk %d is in no table", d.name, c)
	}
	t := d.tables[i]
	off, end, compressed, err := d.locate(t, c-t.first)
	if err != nil {
		return nil, err
	}
	L := d.chunkLen(c)
	name := t.seg.name
	what := func() string {
		s0 := c * d.chunkSize / d.bps
		return fmt.Sprintf("chunk %d (sectors %d to %d)", c, s0, s0+(L+d.bps-1)/d.bps-1)
	}
	if !compressed {
		if end-off < L+4 {
			return nil, &FormatError{File: name, Off: off, Field: what(),
				Msg: fmt.Sprintf("stored in %d bytes, fewer than its %d bytes and 4-byte Adler-32", end-off, L)}
		}
		b := make([]byte, L+4)
		if err := readFull(t.seg.r, b, off); err != nil {
			return nil, &FormatError{File: name, Off: off, Field: what(), Msg: "cannot read", err: err}
		}
		if sum, want := adler32.Checksum(b[:L]), binary.LittleEndian.Uint32(b[L:]); sum != want {
			return nil, &FormatError{File: name, Off: off, Field: what(),
				Msg: fmt.Sprintf("Adler-32 %#08x, computed %#08x: the stored chunk is damaged", want, sum)}
		}
		return b[:L:L], nil
	}
	// A zlib stream of L bytes is at most a few bytes per 16 KiB block
	// longer than L; the last chunk of a table may be followed by other
	// data up to the end of its sectors section, so read only what a
	// stream can need.
	bound := L + L/64 + 64
	n := end - off
	if n > bound {
		if end != t.hi {
			return nil, &FormatError{File: name, Off: off, Field: what(),
				Msg: fmt.Sprintf("stored in %d bytes, more than any zlib stream of a %d-byte chunk needs", n, L)}
		}
		n = bound
	}
	bp, _ := d.inPool.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < n {
		b := make([]byte, max(n, d.chunkSize+d.chunkSize/64+64))
		bp = &b
	}
	defer d.inPool.Put(bp)
	in := (*bp)[:n]
	if err := readFull(t.seg.r, in, off); err != nil {
		return nil, &FormatError{File: name, Off: off, Field: what(), Msg: "cannot read", err: err}
	}
	out := make([]byte, L)
	br := bytes.NewReader(in)
	zr, _ := d.zPool.Get().(io.ReadCloser)
	if zr == nil {
		zr, err = zlib.NewReader(br)
	} else {
		err = zr.(zlib.Resetter).Reset(br, nil)
	}
	if err == nil {
		_, err = io.ReadFull(zr, out)
		if err == nil {
			// Read on to the end of the stream: only there does the
			// zlib reader check the Adler-32.
			var one [1]byte
			var k int
			k, err = zr.Read(one[:])
			if k > 0 {
				err = errors.New("inflates to more than the chunk size")
			} else if err == io.EOF {
				err = nil
			}
		}
		d.zPool.Put(zr)
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = errors.New("inflates to fewer bytes than the chunk size")
		}
		return nil, &FormatError{File: name, Off: off, Field: what(),
			Msg: fmt.Sprintf("corrupt zlib data (%d stored bytes): %v", end-off, err)}
	}
	return out, nil
}

// locate returns the file offsets of the stored bytes of entry j of t and
// whether they are compressed.
func (d *Disk) locate(t *table, j int64) (off, end int64, compressed bool, err error) {
	if err := d.loadTable(t); err != nil {
		return 0, 0, false, err
	}
	w, err := d.window(t, j/winEntries)
	if err != nil {
		return 0, 0, false, err
	}
	k := j % winEntries
	off, compressed = t.entry(j, w.e[k])
	if j+1 < t.n {
		end, _ = t.entry(j+1, w.e[k+1])
	} else {
		end = t.hi
	}
	return off, end, compressed, nil
}

// entry decodes raw table entry j: bit 31 is the compression flag, bits
// 0–30 the offset from the base; past the EnCase 6.7.1 overflow all 32
// bits are the offset of an uncompressed chunk.
func (t *table) entry(j int64, e uint32) (int64, bool) {
	if j >= t.over {
		return t.base + int64(e), false
	}
	return t.base + int64(e&0x7fffffff), e&0x80000000 != 0
}

// window returns window w of table t's entries, with the entry after it.
func (d *Disk) window(t *table, w int64) (*window, error) {
	key := winKey{t, w}
	d.tmu.Lock()
	if e := d.windows[key]; e != nil {
		d.wlru.MoveToFront(e)
		d.tmu.Unlock()
		return e.Value.(*window), nil
	}
	d.tmu.Unlock()
	j0 := w * winEntries
	k := min(winEntries+1, t.n-j0)
	b := make([]byte, 4*k)
	if err := readFull(t.seg.r, b, t.use+4*j0); err != nil {
		return nil, &FormatError{File: t.seg.name, Off: t.use + 4*j0, Field: "table entries", Msg: "cannot read", err: err}
	}
	win := &window{key: key, e: make([]uint32, k)}
	for i := range win.e {
		win.e[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	d.tmu.Lock()
	if e := d.windows[key]; e == nil {
		d.windows[key] = d.wlru.PushFront(win)
		for d.wlru.Len() > maxWindows {
			e := d.wlru.Back()
			d.wlru.Remove(e)
			delete(d.windows, e.Value.(*window).key)
		}
	}
	d.tmu.Unlock()
	return win, nil
}

// loadTable checks table t once, on first use: the Adler-32 of its
// entries (falling back to table2 when it fails), and that the chunk
// offsets increase and stay inside the chunk data.
func (d *Disk) loadTable(t *table) error {
	t.once.Do(func() {
		err := d.scanTable(t, t.entOff, "table", t.off)
		if err == nil {
			t.use = t.entOff
			return
		}
		var fe *FormatError
		if t.alt != 0 && errors.As(err, &fe) && fe.Field == "table entries checksum" {
			if err2 := d.scanTable(t, t.alt, "table2", t.altOff); err2 == nil {
				t.use = t.alt
				d.warn(fmt.Sprintf("%s: %s; the table2 copy at %#x is used", t.seg.name, err, t.altOff))
				return
			}
		}
		t.err = err
	})
	return t.err
}

// scanTable streams the entry array at entOff of table t (a table or its
// table2 copy): checks the Adler-32 footer, that the offsets increase and
// lie in the chunk data, and finds an EnCase 6.7.1 overflow. It sets
// t.over, t.lo and t.footer.
func (d *Disk) scanTable(t *table, entOff int64, typ string, secOff int64) error {
	seg := t.seg
	name := seg.name
	const blk = 16384
	buf := make([]byte, 4*min(blk, t.n))
	sum := adler32.New()
	over := t.n
	var prev int64 = -1
	lo := t.lo
	footer := t.footer
	var bad error
	for j0 := int64(0); j0 < t.n; j0 += blk {
		k := min(blk, t.n-j0)
		b := buf[:4*k]
		if err := readFull(seg.r, b, entOff+4*j0); err != nil {
			return &FormatError{File: name, Off: entOff + 4*j0, Field: typ + " entries", Msg: "cannot read", err: err}
		}
		sum.Write(b)
		for i := int64(0); i < k && bad == nil; i++ {
			j := j0 + i
			e := binary.LittleEndian.Uint32(b[4*i:])
			off := t.base + int64(e&0x7fffffff)
			if j >= over {
				off = t.base + int64(e)
			} else if prev >= 0 && off < prev && t.base+int64(e) > prev {
				// EnCase 6.7.1 wrote offsets past 2 GiB with all 32
				// bits; libewf reads those chunks as uncompressed.
				over = j
				off = t.base + int64(e)
			}
			if j == 0 && t.footerMaybe {
				// EWF/SMART/EnCase 1: the chunks follow the entries,
				// after a 4-byte checksum of them when there is one.
				if off == lo+4 {
					footer = true
					lo += 4
				}
			}
			field := fmt.Sprintf("%s entry %d (chunk %d)", typ, j, t.first+j)
			switch {
			case off < lo:
				bad = &FormatError{File: name, Off: entOff + 4*j, Field: field, Msg: fmt.Sprintf("chunk offset %#x lies before the chunk data (%#x)", off, lo)}
			case off >= t.hi:
				bad = &FormatError{File: name, Off: entOff + 4*j, Field: field, Msg: fmt.Sprintf("chunk offset %#x lies past the end of the chunk data (%#x)", off, t.hi)}
			case off <= prev:
				bad = &FormatError{File: name, Off: entOff + 4*j, Field: field, Msg: fmt.Sprintf("chunk offset %#x does not lie after the previous one (%#x)", off, prev)}
			}
			prev = off
		}
	}
	if footer {
		var f [4]byte
		fo := entOff + 4*t.n
		if err := readFull(seg.r, f[:], fo); err != nil {
			return &FormatError{File: name, Off: fo, Field: typ + " entries checksum", Msg: "cannot read", err: err}
		}
		if want := binary.LittleEndian.Uint32(f[:]); want != sum.Sum32() {
			return &FormatError{File: name, Off: fo, Field: "table entries checksum",
				Msg: fmt.Sprintf("%s section at %#x: Adler-32 of the %d entries %#08x, computed %#08x", typ, secOff, t.n, want, sum.Sum32())}
		}
	}
	if bad != nil {
		return bad
	}
	if over < t.n {
		d.warn(fmt.Sprintf("%s: %s section at %#x: chunk offsets pass 2 GiB from entry %d (EnCase 6.7.1); those chunks are read as uncompressed, as libewf does", name, typ, secOff, over))
	}
	t.over, t.lo, t.footer = over, lo, footer
	return nil
}
