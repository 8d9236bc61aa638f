package xfs

import (
	"bytes"
	"fmt"

	"github.com/mirrorchk/mirrorchk/fs"
)

const (
	logMagic        = 0xFEEDBABE
	logUnmountTrans = 0x20
	maxLogScan      = 4096 // 512-byte log blocks searched back from the head for the last record
)

// logInfo is what the internal log says.
type logInfo struct {
	found         bool
	why           string
	off           int64 // byte offset of the log
	nbb           int64 // 512-byte blocks in the log
	head          int64 // block after the last record
	lastBlk       int64
	lastLSN       uint64
	tailLSN       uint64
	numOps        uint32
	unmount       bool
	clean         bool
	headCycle     uint32
	lastRecordLen uint32
}

func (l *logInfo) describe() string {
	state := "dirty (the last record is not an unmount record"
	switch {
	case l.clean:
		state = "clean (the last record is an unmount record"
	case l.unmount:
		state = "dirty (an unmount record, but the tail is not at it"
	}
	return fmt.Sprintf("log: last record at block %d, LSN %s, tail %s, %d ops, head at block %d: %s)",
		l.lastBlk, lsnString(l.lastLSN), lsnString(l.tailLSN), l.numOps, l.head, state)
}

// logCycle returns the cycle number stamped in 512-byte log block bb.
func (v *Volume) logCycle(b []byte, bb int64) (uint32, bool) {
	if err := v.readAt(b, v.log.off+bb*512); err != nil {
		return 0, false
	}
	if be.Uint32(b) == logMagic {
		return be.Uint32(b[4:]), true
	}
	return be.Uint32(b), true
}

// readLog finds the log head (where the cycle number drops), the last
// record before it, and whether that record is a clean unmount.
func (v *Volume) readLog() {
	l := &v.log
	if v.sb.LogStart == 0 {
		l.why = "external log, not read"
		v.problem("xfs-log-external", fs.Warning, -1, "the log is on an external device: no log evidence")
		return
	}
	off, err := v.fsbOff(v.sb.LogStart)
	if err != nil {
		l.why = "log start outside the filesystem"
		return
	}
	l.off, l.nbb = off, int64(v.sb.LogBlocks)*v.bs/512
	b := make([]byte, 512)
	c0, ok0 := v.logCycle(b, 0)
	cl, okl := v.logCycle(b, l.nbb-1)
	if !ok0 || !okl {
		l.why = "log unreadable"
		v.problem("xfs-log-unreadable", fs.Error, l.off, "the log cannot be read")
		return
	}
	head := l.nbb
	if c0 != cl {
		// Blocks [0, head) carry cycle c0, [head, nbb) an older one.
		lo, hi := int64(1), l.nbb-1
		for lo < hi {
			mid := lo + (hi-lo)/2
			c, ok := v.logCycle(b, mid)
			if !ok {
				l.why = "log unreadable"
				return
			}
			if c == c0 {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		head = lo
	}
	l.head, l.headCycle = head%l.nbb, c0
	if c0 == 0 {
		l.why = "log never written (cycle 0)"
		v.problem("xfs-log-empty", fs.Warning, l.off, "the log holds no record")
		return
	}
	// The last record: the first header found going back from the head.
	for i := int64(1); i <= min(maxLogScan, l.nbb); i++ {
		bb := ((head-i)%l.nbb + l.nbb) % l.nbb
		if err := v.readAt(b, l.off+bb*512); err != nil {
			break
		}
		if be.Uint32(b) != logMagic {
			continue
		}
		l.found = true
		l.lastBlk = bb
		l.lastLSN, l.tailLSN = be.Uint64(b[16:]), be.Uint64(b[24:])
		l.numOps = be.Uint32(b[40:])
		l.lastRecordLen = be.Uint32(b[12:])
		if uint32(l.lastLSN) != uint32(bb) || !bytes.Equal(b[304:320], v.sb.UUID[:]) {
			v.problem("xfs-log-bad", fs.Error, l.off+bb*512, "log record at block %d: LSN %s or UUID does not match its place", bb, lsnString(l.lastLSN))
		}
		hdrs := int64(1)
		if hs := int64(be.Uint32(b[320:])); hs > 32768 && be.Uint32(b[8:])&2 != 0 {
			hdrs = (hs + 32767) / 32768
		}
		data := make([]byte, 512)
		if l.numOps == 1 && v.readAt(data, l.off+((bb+hdrs)%l.nbb)*512) == nil && data[9]&logUnmountTrans != 0 {
			l.unmount = true
		}
		end := (bb + hdrs + (int64(l.lastRecordLen)+511)/512) % l.nbb
		l.clean = l.unmount && end == l.head
		break
	}
	if !l.found {
		l.why = fmt.Sprintf("no record header within %d blocks before the head at block %d", maxLogScan, head)
		v.problem("xfs-log-bad", fs.Error, l.off, "log: %s", l.why)
		return
	}
	if !l.clean {
		v.problem("xfs-log-dirty", fs.Warning, l.off+l.lastBlk*512, "the log is dirty (%s): the filesystem was not cleanly unmounted and needs log recovery", l.describe())
	}
}

// LogTail returns the log's last record (from its header up to the
// head): its byte offset in the volume, its bytes and its LSN. Another
// member of a mirror holding the same bytes at the same place wrote that
// same record: it went on from this member's last logged state.
func (v *Volume) LogTail() (off int64, b []byte, lsn uint64, ok bool) {
	l := &v.log
	if !l.found || l.lastBlk < 0 || l.lastBlk >= l.nbb {
		return 0, nil, 0, false
	}
	end := l.head
	if end <= l.lastBlk {
		end = l.nbb // the record wraps: its part up to the log's end
	}
	n := min(end-l.lastBlk, 1024) // a log record is at most 256 KiB and its headers
	b = make([]byte, n*512)
	off = l.off + l.lastBlk*512
	if v.readAt(b, off) != nil {
		return 0, nil, 0, false
	}
	return off, b, l.lastLSN, true
}

// Holds reports whether the volume holds b at byte off.
func (v *Volume) Holds(off int64, b []byte) bool {
	got := make([]byte, len(b))
	return v.readAt(got, off) == nil && bytes.Equal(got, b)
}
