package ext4

import (
	"fmt"
	"sort"

	"github.com/mirrorchk/mirrorchk/fs"
)

// jbd2 constants (all journal fields are big-endian).
const (
	jMagic      = 0xC03B3998
	jDescriptor = 1
	jCommit     = 2
	jSuperV1    = 3
	jSuperV2    = 4
	jRevoke     = 5

	jIncRevoke = 0x1
	jInc64bit  = 0x2
	jIncCsumV2 = 0x8
	jIncCsumV3 = 0x10

	jFlagSameUUID = 0x2
	jFlagLastTag  = 0x8
)

// jrun maps journal blocks [logical, logical+n) to filesystem blocks.
type jrun struct{ logical, start, n uint64 }

// jtx is a stretch of live log blocks belonging to one transaction.
type jtx struct {
	logical, n uint64
	seq        uint32
}

type journal struct {
	runs   []jrun
	txs    []jtx
	maxlen uint64
}

func (v *Volume) journalBlock(j *journal, logical uint64) (uint64, bool) {
	i := sort.Search(len(j.runs), func(i int) bool { return j.runs[i].logical+j.runs[i].n > logical })
	if i < len(j.runs) && j.runs[i].logical <= logical {
		return j.runs[i].start + logical - j.runs[i].logical, true
	}
	return 0, false
}

// readJournal reads the internal journal's block map and superblock and
// walks the live log, if any.
func (v *Volume) readJournal() {
	sb := v.sb
	if sb.Compat&compatHasJournal == 0 || sb.JournalInum == 0 {
		if sb.Incompat&incompatRecover != 0 {
			v.problem("ext4-needs-recovery", fs.Warning, 1024+0x60, "needs_recovery is set but the filesystem has no internal journal")
		}
		return
	}
	in, err := v.readInode(sb.JournalInum)
	if err != nil {
		v.problem("ext4-journal-bad", fs.Error, -1, "journal inode %d: %v", sb.JournalInum, err)
		return
	}
	j := &journal{}
	var nblocks uint64
	why, off := v.blockMap(in, func(r revRun) {
		switch r.kind {
		case rData:
			if nblocks < 1<<32 {
				j.runs = append(j.runs, jrun{r.logical, r.start, r.n})
				v.meta = append(v.meta, metaRun{start: r.start, n: r.n, kind: mJournal, logical: r.logical})
				nblocks += r.n
			}
		default:
			v.meta = append(v.meta, metaRun{start: r.start, n: r.n, kind: mJournalTree})
		}
	})
	v.sortMeta()
	sort.Slice(j.runs, func(a, b int) bool { return j.runs[a].logical < j.runs[b].logical })
	v.journal = j
	if why != "" {
		v.problem("ext4-journal-bad", fs.Error, off, "journal inode %d block map: %s", sb.JournalInum, why)
	}
	b0, ok := v.journalBlock(j, 0)
	if !ok {
		v.problem("ext4-journal-bad", fs.Error, -1, "journal inode %d maps no block 0 (the journal superblock)", sb.JournalInum)
		return
	}
	jsb, err := v.block(b0)
	if err != nil {
		v.problem("ext4-journal-bad", fs.Error, int64(b0)*v.bs, "journal superblock: %v", err)
		return
	}
	if ok, why := v.jsbOK(jsb); !ok {
		v.problem("ext4-journal-bad", fs.Error, int64(b0)*v.bs, "journal superblock: %s", why)
		return
	}
	v.jsb = jsb[:1024]
	v.jseq, v.jstart = be.Uint32(jsb[0x18:]), be.Uint32(jsb[0x1C:])
	j.maxlen = uint64(be.Uint32(jsb[0x10:]))
	if j.maxlen > nblocks {
		v.problem("ext4-journal-bad", fs.Error, int64(b0)*v.bs+0x10, "journal s_maxlen %d is more than the %d blocks its inode maps", j.maxlen, nblocks)
		j.maxlen = nblocks
	}
	if be.Uint32(jsb[0x20:]) != 0 {
		v.problem("ext4-journal-errno", fs.Error, int64(b0)*v.bs+0x20, "the journal records error %d", int32(be.Uint32(jsb[0x20:])))
	}
	recover := sb.Incompat&incompatRecover != 0
	switch {
	case v.jstart != 0 && recover:
		v.problem("ext4-needs-recovery", fs.Warning, 1024+0x60, "needs_recovery: the journal holds transactions from %d on that are not yet written to their places (this copy was not unmounted cleanly)", v.jseq)
	case v.jstart != 0:
		v.problem("ext4-journal-unreplayed", fs.Warning, int64(b0)*v.bs+0x1C, "the journal's log starts at block %d (not empty) but needs_recovery is clear", v.jstart)
	case recover:
		v.problem("ext4-needs-recovery", fs.Warning, 1024+0x60, "needs_recovery is set, the journal is empty")
	}
	if v.jstart != 0 {
		v.walkLog(j, jsb)
	}
}

func (v *Volume) jsbOK(b []byte) (bool, string) {
	if m := be.Uint32(b[0:]); m != jMagic {
		return false, fmt.Sprintf("magic %#08x is not 0xc03b3998", m)
	}
	if t := be.Uint32(b[4:]); t != jSuperV1 && t != jSuperV2 {
		return false, fmt.Sprintf("block type %d is not a superblock", t)
	}
	if bs := be.Uint32(b[0xC:]); int64(bs) != v.bs {
		return false, fmt.Sprintf("journal block size %d is not the filesystem's %d", bs, v.bs)
	}
	if be.Uint32(b[4:]) == jSuperV2 && be.Uint32(b[0x28:])&(jIncCsumV2|jIncCsumV3) != 0 {
		c := make([]byte, 1024)
		copy(c, b)
		clear(c[0xFC:0x100])
		if got, want := be.Uint32(b[0xFC:]), crc32c(^uint32(0), c); got != want {
			return false, fmt.Sprintf("checksum %#08x, computed %#08x", got, want)
		}
	}
	return true, ""
}

// walkLog follows the live log from s_start: descriptor blocks and their
// data, revoke blocks, commits, while the sequence numbers run on.
func (v *Volume) walkLog(j *journal, jsb []byte) {
	first := uint64(be.Uint32(jsb[0x14:]))
	if first == 0 || first >= j.maxlen {
		v.problem("ext4-journal-bad", fs.Error, -1, "journal s_first %d outside its %d blocks", first, j.maxlen)
		return
	}
	inc := be.Uint32(jsb[0x28:])
	tag := uint64(8)
	switch {
	case inc&jIncCsumV3 != 0:
		tag = 16
	case inc&jIncCsumV2 != 0:
		tag = 10
		if inc&jInc64bit != 0 {
			tag = 14
		}
	case inc&jInc64bit != 0:
		tag = 12
	}
	tail := uint64(0)
	if inc&(jIncCsumV2|jIncCsumV3) != 0 {
		tail = 4
	}
	pos, seq := uint64(v.jstart), v.jseq
	if pos < first || pos >= j.maxlen {
		v.problem("ext4-journal-bad", fs.Error, -1, "journal s_start %d outside the log", pos)
		return
	}
	wrap := func(p uint64) uint64 {
		if p >= j.maxlen {
			p = p - j.maxlen + first
		}
		return p
	}
	mark := func(p, n uint64, seq uint32) {
		for n > 0 {
			k := min(n, j.maxlen-p)
			if l := len(j.txs); l > 0 && j.txs[l-1].seq == seq && j.txs[l-1].logical+j.txs[l-1].n == p {
				j.txs[l-1].n += k
			} else {
				j.txs = append(j.txs, jtx{p, k, seq})
			}
			n -= k
			p = wrap(p + k)
		}
	}
	open := false
	for steps := uint64(0); steps < j.maxlen; {
		pb, ok := v.journalBlock(j, pos)
		if !ok {
			break
		}
		b, err := v.block(pb)
		if err != nil || be.Uint32(b[0:]) != jMagic || be.Uint32(b[8:]) != seq {
			break
		}
		adv := uint64(1)
		switch be.Uint32(b[4:]) {
		case jDescriptor:
			for o := uint64(12); o+tag <= uint64(len(b))-tail; {
				var flags uint32
				if tag == 16 {
					flags = be.Uint32(b[o+4:])
				} else {
					flags = uint32(be.Uint16(b[o+6:]))
				}
				adv++
				o += tag
				if flags&jFlagSameUUID == 0 {
					o += 16
				}
				if flags&jFlagLastTag != 0 {
					break
				}
			}
			open = true
		case jCommit:
			mark(pos, 1, seq)
			v.jlast = seq
			v.jcommit++
			seq++
			pos = wrap(pos + 1)
			steps++
			open = false
			continue
		case jRevoke:
			open = true
		default:
			steps = j.maxlen
			continue
		}
		adv = min(adv, j.maxlen-first)
		mark(pos, adv, seq)
		pos = wrap(pos + adv)
		steps += adv
	}
	if open {
		v.problem("ext4-journal-uncommitted", fs.Info, -1, "transaction %d in the log has no commit block (it is not replayed)", seq)
	}
}

// journalTx returns the transaction of the live log that journal block
// logical belongs to.
func (v *Volume) journalTx(logical uint64) (seq uint32, end uint64, ok bool) {
	if v.journal == nil {
		return 0, 0, false
	}
	for _, t := range v.journal.txs {
		if logical >= t.logical && logical < t.logical+t.n {
			return t.seq, t.logical + t.n, true
		}
	}
	return 0, 0, false
}

// maxTailScan bounds the journal blocks searched for the last commit.
const maxTailScan = 1 << 18

// LogTail returns the commit block of the last transaction the journal
// holds (the highest sequence below the next transaction ID): its byte
// offset in the volume, its bytes and the sequence. The block records the
// sequence and the commit time; another member of a mirror holding the
// same bytes at the same place committed that same transaction and went
// on from this member's last journalled state. A clean unmount empties
// the log but leaves the blocks; they are searched block by block. false
// when an inode owning a differing range changed after that commit
// (debugfs and e2fsck write outside the journal): then the commit is not
// this member's last write.
func (v *Volume) LogTail() (off int64, b []byte, seq uint64, ok bool) {
	j := v.journal
	if j == nil || v.jsb == nil {
		return 0, nil, 0, false
	}
	next := v.jseq
	if v.jlast != 0 {
		next = v.jlast + 1
	}
	first := uint64(be.Uint32(v.jsb[0x14:]))
	hdr := make([]byte, 12)
	var best uint32
	var at int64 = -1
	for l := first; l < j.maxlen && l-first < maxTailScan; l++ {
		pb, ok := v.journalBlock(j, l)
		if !ok {
			continue
		}
		o := int64(pb) * v.bs
		if v.readAt(hdr, o) != nil || be.Uint32(hdr) != jMagic || be.Uint32(hdr[4:]) != jCommit {
			continue
		}
		if s := be.Uint32(hdr[8:]); s < next && (at < 0 || s > best) {
			best, at = s, o
		}
	}
	if at < 0 {
		return 0, nil, 0, false
	}
	b = make([]byte, v.bs)
	if v.readAt(b, at) != nil {
		return 0, nil, 0, false
	}
	if commit := int64(be.Uint64(b[0x30:])); v.latest > commit+1 {
		return 0, nil, 0, false
	}
	return at, b, uint64(best), true
}

// Holds reports whether the volume holds b at byte off.
func (v *Volume) Holds(off int64, b []byte) bool {
	got := make([]byte, len(b))
	return v.readAt(got, off) == nil && string(got) == string(b)
}
