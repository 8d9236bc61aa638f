package check

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/set"
)

// Bases of a piece's source: why a range is copied from the member it is.
const (
	SourceStructure = "structure"     // the other copies fail their own checks (fixups, signatures, twin FAT)
	SourceAuthority = "set-authority" // the set's authoritative member (metadata, --prefer, or filesystem evidence)
	SourceMajority  = "majority"      // more than half of the members hold this copy
	SourceLSN       = "lsn"           // this copy's NTFS records carry the highest log sequence number
	SourceNone      = "none"          // nothing decides: undecided
)

// Piece is a differing range split where any member's owner changes, with
// each member's owner and the copy a repair takes.
type Piece struct {
	Range
	// Owners[i] is member i's owner of the bytes; FS and Structure are ""
	// when member i's filesystem is unknown.
	Owners []fs.Owner
	Source int // member index copied from, -1 when undecided
	Basis  string
	Reason string
	ev     pieceEvidence
}

// pieceEvidence is what the structures say about a piece, before the set
// authority is known.
type pieceEvidence struct {
	torn      []bool // per group: its copy fails a structural check while another's verifies
	structWhy string
	majority  int // group holding more than half of the members, or -1
	lsn       int // group with the unique highest LSN, or -1
	lsnWhy    string
}

func (e *pieceEvidence) any() bool {
	return e.majority >= 0 || e.lsn >= 0 || slices.Contains(e.torn, true)
}

// FileImpact is one file or structure touched by the divergence, listed
// once with the bytes that differ in it.
type FileImpact struct {
	Path       string
	FS         string
	Bytes      int64
	Structures []string
}

// MemberFS is what a member's filesystems say about themselves.
type MemberFS struct {
	Layout   *Layout
	Evidence []fs.Evidence // per Layout.Volumes
}

// override is a range a repair copies from another member than the
// authority.
type override struct {
	Off, Len int64
	Groups   [][]int
	ev       pieceEvidence
}

const (
	maxOverrides = 1 << 20
	maxFiles     = 100000
)

// interp interprets the differing ranges through each member's
// filesystem while the diff streams.
type interp struct {
	s        *set.Set
	layouts  []*Layout
	maxList  int
	listed   []Piece
	total    int64
	records  []override // pieces with structural, majority or LSN evidence
	overflow bool
	// quiet counts the bytes of pieces without evidence, by the grouping
	// of the members, to tell later whether a filesystem authority leaves
	// ranges undecided.
	quiet map[string]*quietBytes
	files map[string]*FileImpact
	lost  int64 // bytes in files past maxFiles
	on    bool  // some member has a recognised filesystem
	// torn[i] counts the differing bytes where member i's copy fails its
	// own checks while another's verifies.
	torn []int64
	// known is the authority when it is known before the diff (--prefer,
	// or one current member by metadata that cannot be overruled), else -1:
	// then only pieces taken from elsewhere need keeping.
	known int
	// older marks members the set metadata shows behind (stale, faulty,
	// rebuilding, spare); the filesystem evidence adds to it after the diff.
	older []bool
	// overflowBytes counts the bytes of pieces with evidence not kept
	// because maxOverrides was reached: they count as undecided.
	overflowBytes int64
	// piecePairs[i][j] counts the pieces in which members i and j differ.
	piecePairs [][]int64
	// excl[i][j] counts the differing bytes that member i's filesystem
	// gives to a file while member j's has them free or gives them to
	// another file, or to the same inode changed later on i (by a change
	// time no program sets): writes on i that j lacks. exclPath[i][j] is
	// the first such file of i.
	excl     [][]int64
	exclPath [][]string
	// alloc[i][j] counts the part of excl[i][j] shown by allocation alone
	// (i's file where j has free space or another file), not by dates;
	// allocPath[i][j] is the first such file of i.
	alloc     [][]int64
	allocPath [][]string
	facts     map[int]map[any]recordFact // per member: identities and change times read
	// recWrites keeps, per pair of members, what each record of the first
	// made of excl and alloc over the second (recIndex finds it; recFull
	// marks pairs past maxRecordWrites), for commonState.
	recWrites map[[2]int][]recordWrite
	recIndex  map[[3]int64]int
	recFull   map[[2]int]bool
	// tails are the members' last log records, read when needed; anc
	// caches ancestor.
	tails []logTail
	anc   map[[2]int]bool
	// dated[i][j] counts the differing bytes of files both members hold
	// at one path whose copy on i is dated later than on j, by dates a
	// program may have set (FAT): no write is shown by them, but j cannot
	// be taken over i without perhaps losing one. datedPath[i][j] is the
	// first such file, with both dates.
	dated     [][]int64
	datedPath [][]string
	ntfs      *ntfsRecords // NTFS file records weighed one by one (ntfsauth.go)
	now       time.Time    // the scan's clock: later timestamps are not evidence
}

// needed reports whether a piece with evidence must be kept for the
// decision after the diff.
func (in *interp) needed(p Piece) bool {
	if in.known < 0 {
		return true
	}
	src, _, _ := resolve(p.Groups, p.ev, in.known, true, in.older, func(int) string { return "" })
	return src < 0 || group(p.Groups, src) != group(p.Groups, in.known)
}

func newInterp(s *set.Set, layouts []*Layout, maxList int) *interp {
	in := &interp{s: s, layouts: layouts, maxList: maxList, quiet: map[string]*quietBytes{}, files: map[string]*FileImpact{},
		torn: make([]int64, len(s.Members)), known: -1, older: make([]bool, len(s.Members)), piecePairs: make([][]int64, len(s.Members)),
		excl: make([][]int64, len(s.Members)), exclPath: make([][]string, len(s.Members)),
		alloc: make([][]int64, len(s.Members)), allocPath: make([][]string, len(s.Members)),
		dated: make([][]int64, len(s.Members)), datedPath: make([][]string, len(s.Members))}
	for i, m := range s.Members {
		switch m.State {
		case set.StateStale, set.StateFaulty, set.StateRebuilding, set.StateSpare:
			in.older[i] = true
		}
		in.piecePairs[i] = make([]int64, len(s.Members))
		in.excl[i] = make([]int64, len(s.Members))
		in.exclPath[i] = make([]string, len(s.Members))
		in.alloc[i] = make([]int64, len(s.Members))
		in.allocPath[i] = make([]string, len(s.Members))
		in.dated[i] = make([]int64, len(s.Members))
		in.datedPath[i] = make([]string, len(s.Members))
	}
	for _, l := range layouts {
		if l != nil && len(l.Volumes) > 0 {
			in.on = true
		}
	}
	return in
}

// quietBytes counts the bytes of pieces without evidence grouped alike.
type quietBytes struct {
	groups [][]int
	bytes  int64
}

func groupKey(g [][]int) string { return fmt.Sprint(g) }

// splitWindow bounds the bytes of a range split at once, so that memory
// does not grow with the size of one differing range (a replaced member
// differs in one range as long as the disk, with one owner per MFT record).
const splitWindow = 16 << 20

// add takes one differing range from the diff. It splits the range window
// by window and joins pieces that continue across a window's edge with the
// same owners and evidence.
func (in *interp) add(r Range) {
	var pend *Piece
	flush := func() {
		if pend != nil {
			in.take(*pend)
			pend = nil
		}
	}
	end := r.Offset + r.Length
	for off := r.Offset; off < end; off += splitWindow {
		w := Range{Offset: off, Length: min(splitWindow, end-off), Groups: r.Groups}
		for _, p := range in.split(w) {
			if pend != nil && pend.Offset+pend.Length == p.Offset && slices.Equal(pend.Owners, p.Owners) && sameEvidence(pend.ev, p.ev) {
				pend.Length += p.Length
				continue
			}
			flush()
			pend = &p
		}
	}
	flush()
}

// countPairs adds one to m[i][j] and m[j][i] for every two members i and j
// that groups puts apart.
func countPairs(groups [][]int, m [][]int64) {
	for gi, g := range groups {
		for _, h := range groups[gi+1:] {
			for _, i := range g {
				for _, j := range h {
					m[i][j]++
					m[j][i]++
				}
			}
		}
	}
}

func sameEvidence(a, b pieceEvidence) bool {
	return slices.Equal(a.torn, b.torn) && a.structWhy == b.structWhy && a.majority == b.majority && a.lsn == b.lsn && a.lsnWhy == b.lsnWhy
}

// take counts one piece and keeps what the decision after the diff needs.
func (in *interp) take(p Piece) {
	in.total++
	in.count(p)
	countPairs(p.Groups, in.piecePairs)
	in.countExclusive(p)
	for g, torn := range p.ev.torn {
		if torn {
			for _, i := range p.Groups[g] {
				in.torn[i] += p.Length
			}
		}
	}
	if p.ev.any() && in.needed(p) {
		if len(in.records) < maxOverrides {
			in.records = append(in.records, override{Off: p.Offset, Len: p.Length, Groups: p.Groups, ev: p.ev})
		} else {
			in.overflow = true
			in.overflowBytes += p.Length
		}
	} else {
		k := groupKey(p.Groups)
		q := in.quiet[k]
		if q == nil {
			q = &quietBytes{groups: p.Groups}
			in.quiet[k] = q
		}
		q.bytes += p.Length
	}
	if len(in.listed) < in.maxList { // a negative limit lists none, as in Diff
		in.listed = append(in.listed, p)
	}
}

// fileOwned reports whether o is a user file's or directory's allocation
// (not free space, lost clusters, or an NTFS metadata file such as /$MFT).
func fileOwned(o fs.Owner) bool {
	return o.Path != "" && !strings.HasPrefix(o.Path, "/$") && o.Structure != fs.FreeSpace && o.Structure != fs.LostClusters
}

// fileDater is implemented by filesystems that date a file's last write
// by its path (FAT).
type fileDater interface {
	Modified(path string) (time.Time, bool)
}

// modified dates path in member i's filesystems, when one can.
func (in *interp) modified(i int, path string) (time.Time, bool) {
	if i >= len(in.layouts) || in.layouts[i] == nil {
		return time.Time{}, false
	}
	for _, v := range in.layouts[i].Volumes {
		if d, ok := v.Vol.(fileDater); ok {
			if t, ok := d.Modified(path); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// fileIdentifier is implemented by filesystems whose file records carry
// an identity beyond their number (ext4 and XFS: the inode's generation
// and creation time). One record number holding files of different
// identities on two members holds two different files.
type fileIdentifier interface {
	Identity(record int64) (string, bool)
}

// recordDater is implemented by filesystems that date the last change of
// a file record by a time no program sets (ext4 and XFS: the inode's
// change time).
type recordDater interface {
	Changed(record int64) (time.Time, bool)
}

// logTailer is implemented by filesystems whose log's last record or
// commit can be found (ext4 jbd2, XFS): a member whose last record
// another member holds unchanged at the same place is that member's
// ancestor.
type logTailer interface {
	LogTail() (off int64, b []byte, lsn uint64, ok bool)
	Holds(off int64, b []byte) bool
}

// logTail is one member's last log record.
type logTail struct {
	off  int64
	b    []byte
	lsn  uint64
	ok   bool
	read bool
}

// tailOf reads member i's last log record once.
func (in *interp) tailOf(i int) logTail {
	if in.tails == nil {
		in.tails = make([]logTail, len(in.s.Members))
	}
	t := &in.tails[i]
	if t.read {
		return *t
	}
	t.read = true
	if l := in.layouts[i]; l != nil && len(l.Volumes) > 0 {
		if lt, ok := l.Volumes[0].Vol.(logTailer); ok {
			t.off, t.b, t.lsn, t.ok = lt.LogTail()
		}
	}
	return *t
}

// ancestor reports whether member o's last log record lies unchanged, at
// the same place, in member c's log: c wrote that record too and went on
// from o's last logged state, so o holds no write of its own that c
// lacks (data written in place is dated by logged inode changes).
func (in *interp) ancestor(o, c int) bool {
	if o == c || o >= len(in.layouts) || c >= len(in.layouts) || in.layouts[o] == nil || in.layouts[c] == nil ||
		len(in.layouts[o].Volumes) == 0 || len(in.layouts[c].Volumes) == 0 {
		return false
	}
	vo, vc := in.layouts[o].Volumes[0], in.layouts[c].Volumes[0]
	lc, ok := vc.Vol.(logTailer)
	if !ok || vo.Start != vc.Start || vo.Vol.Type() != vc.Vol.Type() {
		return false
	}
	to, tc := in.tailOf(o), in.tailOf(c)
	if !to.ok || !tc.ok {
		return false
	}
	if in.anc == nil {
		in.anc = map[[2]int]bool{}
	}
	k := [2]int{o, c}
	if a, done := in.anc[k]; done {
		return a
	}
	a := lc.Holds(to.off, to.b)
	in.anc[k] = a
	return a
}

// maxRecordWrites bounds the records kept per pair of members for
// commonState.
const maxRecordWrites = 4096

// recordWrite is the part of excl one record of member i makes against
// member j, and of that the part of alloc.
type recordWrite struct {
	rec, off    int64
	excl, alloc int64
	path        string
	inCommon    bool
}

// noteRecord keeps, per record, what countExclusive counted for i over j.
func (in *interp) noteRecord(i, j int, off, rec, n int64, alloc bool, path string) {
	if in.recWrites == nil {
		in.recWrites = map[[2]int][]recordWrite{}
		in.recIndex = map[[3]int64]int{}
		in.recFull = map[[2]int]bool{}
	}
	k := [2]int{i, j}
	x, ok := in.recIndex[[3]int64{int64(i), int64(j), rec}]
	if !ok {
		if len(in.recWrites[k]) >= maxRecordWrites {
			in.recFull[k] = true
			return
		}
		x = len(in.recWrites[k])
		in.recWrites[k] = append(in.recWrites[k], recordWrite{rec: rec, off: off, path: path})
		in.recIndex[[3]int64{int64(i), int64(j), rec}] = x
	}
	w := &in.recWrites[k][x]
	w.excl += n
	if alloc {
		w.alloc += n
	}
}

// commonStater is implemented by filesystems that can date the members'
// common state from inodes both hold unchanged (ext2/3/4).
type commonStater interface {
	CommonBefore(other fs.Volume) (time.Time, bool)
}

// commonState takes out of excl and alloc what member i seems to hold
// that j lacks in files i last changed before the members' common state
// ended (an inode both hold unchanged was changed later): those bytes are
// the common state's on i, and j changed them (deleted the file, reused
// its inode or blocks). It returns one such file per pair, for the
// reasons.
func (in *interp) commonState() map[[2]int]string {
	out := map[[2]int]string{}
	for k, ws := range in.recWrites {
		i, j := k[0], k[1]
		if in.recFull[k] || len(ws) == 0 {
			continue
		}
		vi, vj := in.volumeAt(i, ws[0].off), in.volumeAt(j, ws[0].off)
		cs, ok := vi.(commonStater)
		if !ok || vj == nil {
			continue
		}
		bound, ok := cs.CommonBefore(vj)
		if !ok {
			continue
		}
		for x := range ws {
			w := &ws[x]
			f := in.record(i, w.off, w.rec)
			if !f.whenOK || !f.when.Before(bound) {
				continue
			}
			w.inCommon = true
			in.excl[i][j] -= w.excl
			in.alloc[i][j] -= w.alloc
			if out[k] == "" {
				out[k] = fmt.Sprintf("%s (inode %d, last changed %s on %s; an inode both hold unchanged was changed %s)", w.path, w.rec,
					f.when.Format(time.RFC3339Nano), in.s.Members[i].Path(), bound.Format(time.RFC3339Nano))
			}
		}
		if out[k] == "" {
			continue
		}
		// Name a file that still counts.
		in.exclPath[i][j], in.allocPath[i][j] = "", ""
		for _, w := range ws {
			if w.inCommon {
				continue
			}
			if in.exclPath[i][j] == "" {
				in.exclPath[i][j] = w.path
			}
			if in.allocPath[i][j] == "" && w.alloc > 0 {
				in.allocPath[i][j] = w.path
			}
		}
	}
	return out
}

// maxRecordFacts bounds the identities and change times kept per member.
const maxRecordFacts = 1 << 14

// recordFact is what one member's filesystem says of one record number.
type recordFact struct {
	id     string
	idOK   bool
	when   time.Time
	whenOK bool
}

// volumeAt returns member i's filesystem holding data offset off, or nil.
func (in *interp) volumeAt(i int, off int64) fs.Volume {
	if i >= len(in.layouts) || in.layouts[i] == nil {
		return nil
	}
	for _, v := range in.layouts[i].Volumes {
		if off >= v.Start && off < v.Start+v.Size {
			return v.Vol
		}
	}
	return nil
}

// record returns what member i's filesystem at off says of record rec.
func (in *interp) record(i int, off, rec int64) recordFact {
	type key struct {
		vol fs.Volume
		rec int64
	}
	v := in.volumeAt(i, off)
	if v == nil || rec <= 0 {
		return recordFact{}
	}
	if in.facts == nil {
		in.facts = map[int]map[any]recordFact{}
	}
	m := in.facts[i]
	if m == nil {
		m = map[any]recordFact{}
		in.facts[i] = m
	}
	k := key{v, rec}
	if f, ok := m[k]; ok {
		return f
	}
	var f recordFact
	if d, ok := v.(fileIdentifier); ok {
		f.id, f.idOK = d.Identity(rec)
	}
	if d, ok := v.(recordDater); ok {
		f.when, f.whenOK = d.Changed(rec)
	}
	if len(m) < maxRecordFacts {
		m[k] = f
	}
	return f
}

// countExclusive adds p to excl and alloc: for every two members holding
// different bytes, whether one's filesystem allocates them to a file the
// other's does not (free there, or another file's: another path, or the
// same inode number holding a file of another identity), or to the same
// file changed later than the other's copy of it.
func (in *interp) countExclusive(p Piece) {
	if len(p.Owners) != len(in.s.Members) {
		return
	}
	name := func(i int) string { return in.s.Members[i].Path() }
	add := func(m [][]int64, paths [][]string, i, j int, path string) {
		m[i][j] += p.Length
		if paths[i][j] == "" {
			paths[i][j] = path
		}
	}
	// allocated: i's file where j has free space or another file.
	allocated := func(i, j int, path string) {
		add(in.alloc, in.allocPath, i, j, path)
		add(in.excl, in.exclPath, i, j, path)
		if r := p.Owners[i].Record; r > 0 {
			in.noteRecord(i, j, p.Offset, r, p.Length, true, path)
		}
	}
	for gi, g := range p.Groups {
		for hi, h := range p.Groups {
			if gi == hi {
				continue
			}
			for _, i := range g {
				for _, j := range h {
					oi, oj := p.Owners[i], p.Owners[j]
					if in.countRecord(p, i, j, add) {
						continue
					}
					if !fileOwned(oi) || oj.FS == "" {
						continue
					}
					if !fileOwned(oj) {
						if oj.Structure != fs.FreeSpace {
							continue // metadata structures on j: not a plain absence
						}
						allocated(i, j, oi.Path)
						continue
					}
					if oi.Record > 0 && oj.Record == oi.Record {
						// One record number on both: the same file (renamed,
						// or changed in place) unless the filesystems say
						// it holds files of different identities.
						fi, fj := in.record(i, p.Offset, oi.Record), in.record(j, p.Offset, oj.Record)
						if fi.idOK && fj.idOK && fi.id != fj.id {
							what := fmt.Sprintf("%s in inode %d (%s), which holds %s (%s) on %s", oi.Path, oi.Record, fi.id, oj.Path, fj.id, name(j))
							allocated(i, j, what)
							continue
						}
						if fi.whenOK && fj.whenOK && fi.when.After(fj.when) {
							what := fmt.Sprintf("%s (inode %d changed %s on %s, %s on %s)", oi.Path, oi.Record,
								fi.when.Format(time.RFC3339Nano), name(i), fj.when.Format(time.RFC3339Nano), name(j))
							add(in.excl, in.exclPath, i, j, what)
							in.noteRecord(i, j, p.Offset, oi.Record, p.Length, false, what)
						}
						continue
					}
					if oj.Path != oi.Path {
						allocated(i, j, oi.Path)
						continue
					}
					if oi.Structure == fs.FileData && oj.Structure == fs.FileData {
						// The same file on both: a write i has and j lacks
						// when i's copy is dated later.
						ti, oki := in.modified(i, oi.Path)
						tj, okj := in.modified(j, oj.Path)
						if oki && okj && ti.After(tj) {
							// Dates a program may have set: they stop a
							// member from being taken over the other, but
							// show no write (dated, not excl).
							add(in.dated, in.datedPath, i, j, fmt.Sprintf("%s, dated %s on %s and %s on %s", oi.Path,
								ti.UTC().Format(time.RFC3339), name(i), tj.UTC().Format(time.RFC3339), name(j)))
						}
					}
				}
			}
		}
	}
}

// split cuts r where any member's owner changes and gathers each piece's
// evidence.
func (in *interp) split(r Range) []Piece {
	n := len(in.s.Members)
	if !in.on {
		p := Piece{Range: r, Owners: make([]fs.Owner, n)}
		p.ev = in.evidence(p)
		return []Piece{p}
	}
	owners := make([][]owned, n)
	cuts := []int64{r.Offset, r.Offset + r.Length}
	for i, l := range in.layouts {
		if l == nil {
			continue
		}
		owners[i] = l.Owners(r.Offset, r.Length)
		for _, o := range owners[i] {
			cuts = append(cuts, o.Off)
		}
	}
	sort.Slice(cuts, func(a, b int) bool { return cuts[a] < cuts[b] })
	cuts = slices.Compact(cuts)
	var out []Piece
	for k := 0; k+1 < len(cuts); k++ {
		off, end := cuts[k], cuts[k+1]
		if off < r.Offset || end > r.Offset+r.Length {
			continue
		}
		p := Piece{Range: Range{Offset: off, Length: end - off, Groups: r.Groups}, Owners: make([]fs.Owner, n)}
		for i, os := range owners {
			j := sort.Search(len(os), func(j int) bool { return os[j].Off+os[j].Len > off })
			if j < len(os) {
				p.Owners[i] = os[j].Owner
			}
		}
		p.ev = in.evidence(p)
		out = append(out, p)
	}
	return out
}

// evidence judges each group's copy of the piece by its own structures,
// counts a majority and compares LSNs.
func (in *interp) evidence(p Piece) pieceEvidence {
	ev := pieceEvidence{majority: -1, lsn: -1}
	n := len(in.s.Members)
	for g, members := range p.Groups {
		if n >= 3 && 2*len(members) > n {
			ev.majority = g
		}
	}
	if !in.on {
		return ev
	}
	js := make([]fs.Judgement, len(p.Groups))
	var intact, torn []int
	for g, members := range p.Groups {
		if l := in.layouts[members[0]]; l != nil {
			js[g] = l.Judge(p.Offset, p.Length)
		}
		if l := in.layouts[members[0]]; l != nil && len(l.Volumes) == 0 && bootOwned(p) {
			// Another member reads a boot sector here; this copy does not
			// open as any filesystem.
			js[g] = fs.Judgement{Intact: -1, Reason: "boot sector does not validate: no filesystem recognised (" + strings.Join(l.Notes, "; ") + ")"}
		}
		switch js[g].Intact {
		case 1:
			intact = append(intact, g)
		case -1:
			torn = append(torn, g)
		}
	}
	name := func(g int) string { return in.s.Members[p.Groups[g][0]].Path() }
	if len(intact) > 0 && len(torn) > 0 {
		ev.torn = make([]bool, len(p.Groups))
		var why []string
		for _, g := range torn {
			ev.torn[g] = true
			why = append(why, fmt.Sprintf("%s's copy fails: %s", name(g), js[g].Reason))
		}
		for _, g := range intact {
			why = append(why, fmt.Sprintf("%s's copy verifies: %s", name(g), js[g].Reason))
		}
		ev.structWhy = strings.Join(why, "; ")
	}
	// LSNs compare copies that were read and do not fail their own
	// checks; a member whose filesystem was not read has no LSN to lose.
	for _, members := range p.Groups {
		if l := in.layouts[members[0]]; l == nil || len(l.Volumes) == 0 {
			return ev
		}
	}
	best, second := -1, uint64(0)
	for g, j := range js {
		if j.Intact < 0 {
			continue
		}
		switch {
		case best < 0 || j.LSN > js[best].LSN:
			if best >= 0 {
				second = js[best].LSN
			}
			best = g
		case j.LSN > second:
			second = j.LSN
		}
	}
	if best >= 0 && js[best].LSN > 0 && js[best].LSN > second {
		ev.lsn = best
		ev.lsnWhy = fmt.Sprintf("%s's copy carries LSN %d, the others at most %d", name(best), js[best].LSN, second)
	}
	return ev
}

// bootOwned reports whether some member's filesystem has its boot sector
// in the piece.
func bootOwned(p Piece) bool {
	for _, o := range p.Owners {
		if o.Structure == fs.BootSector && o.FS != "" {
			return true
		}
	}
	return false
}

// count adds the piece to the affected files.
func (in *interp) count(p Piece) {
	seen := map[string]bool{}
	for _, o := range p.Owners {
		if o.FS == "" && o.Structure == "" {
			continue
		}
		key := o.Path
		if key == "" {
			key = "[" + o.Structure + "]"
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		f := in.files[key]
		if f == nil {
			if len(in.files) >= maxFiles {
				in.lost += p.Length
				continue
			}
			f = &FileImpact{Path: o.Path, FS: o.FS}
			in.files[key] = f
		}
		f.Bytes += p.Length
		st := o.Structure
		if strings.HasPrefix(st, "$MFT record ") {
			st = "$MFT record"
		}
		if !slices.Contains(f.Structures, st) {
			f.Structures = append(f.Structures, st)
		}
	}
}

// resolve picks the copy of a piece. auth is the set's authoritative
// member (-1 for none); strong is false when that authority comes only from
// filesystem evidence, which then yields to per-range majority and LSNs.
// older marks members the evidence shows behind (nil for none): their
// copies never replace the authority's, however well they verify, since an
// intact old copy is not the current one.
func resolve(groups [][]int, ev pieceEvidence, auth int, strong bool, older []bool, name func(int) string) (src int, basis, why string) {
	torn := func(g int) bool { return g >= 0 && ev.torn != nil && ev.torn[g] }
	authG := group(groups, auth)
	behind := func(g int) bool {
		if older == nil || g == authG || authG < 0 {
			return false
		}
		for _, i := range groups[g] {
			if !older[i] {
				return false
			}
		}
		return true
	}
	var cands []int
	for g := range groups {
		if !torn(g) && !behind(g) {
			cands = append(cands, g)
		}
	}
	in := func(g int) bool { return g >= 0 && slices.Contains(cands, g) }
	prefix := ""
	if ev.torn != nil {
		prefix = ev.structWhy + "; "
		if torn(authG) && len(cands) == 0 {
			return auth, SourceAuthority, prefix + fmt.Sprintf("the copies that verify are on members the evidence shows older than %s, so its copy is kept as it is (check the filesystem after repair)", name(auth))
		}
		if len(cands) == 1 {
			return pick(groups[cands[0]], auth), SourceStructure, ev.structWhy
		}
	}
	if strong && in(authG) {
		return auth, SourceAuthority, prefix + fmt.Sprintf("%s is the set's authoritative member", name(auth))
	}
	if in(ev.majority) {
		g := ev.majority
		return pick(groups[g], auth), SourceMajority, prefix + fmt.Sprintf("%d of %d members hold this copy", len(groups[g]), members(groups))
	}
	if in(ev.lsn) {
		return pick(groups[ev.lsn], auth), SourceLSN, prefix + ev.lsnWhy
	}
	if in(authG) {
		return auth, SourceAuthority, prefix + fmt.Sprintf("%s is the set's authoritative member", name(auth))
	}
	return -1, SourceNone, prefix + "no evidence says which copy is right"
}

// pick is the authority when it is in the group, else the group's first member.
func pick(g []int, auth int) int {
	if slices.Contains(g, auth) {
		return auth
	}
	return g[0]
}

func members(groups [][]int) int {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	return n
}

// files returns the affected files, largest first.
func (in *interp) fileList() []FileImpact {
	out := make([]FileImpact, 0, len(in.files))
	for _, f := range in.files {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// memberFS reads each member's layout of filesystems. A member's bytes
// declared unreadable (unreadable, by Member.Input, image offsets) are read
// from another member that holds them readable at the same data-area
// offset, where one does: zeros a failing disk left are not its structures.
func memberFS(s *set.Set, sectorSize int, openers []Opener, unreadable map[int][]Extent) ([]*Layout, []string) {
	layouts := make([]*Layout, len(s.Members))
	var notes []string
	if len(openers) == 0 || s.DataSize <= 0 || (s.Level != "" && s.Level != "raid1") {
		return layouts, nil
	}
	for i, m := range s.Members {
		// The member's own data area, not the set's: a short member must
		// not make the others' filesystems look truncated.
		size := m.Image.Size() - m.DataOffset
		if m.DataSize > 0 {
			size = min(size, m.DataSize)
		}
		if size <= 0 {
			continue
		}
		p := patchedReader(s, i, io.NewSectionReader(m.Image, m.DataOffset, size), unreadable)
		l, err := ReadLayout(p, size, sectorSize, openers)
		if p.failed > 0 || p.borrowed > 0 {
			notes = append(notes, fmt.Sprintf("%s: its filesystem was read with %d unreadable bytes taken from another member's copy and %d that no member could read left as the image holds them (zeros), to read its structures only; the comparison never does",
				m.Path(), p.borrowed, p.failed))
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: filesystem not read: %v", m.Path(), err))
			continue
		}
		layouts[i] = l
	}
	return layouts, notes
}

// patched reads a member's data area for its filesystem structures: its
// declared-unreadable ranges, and sectors whose reads fail, are taken from
// another member that holds them readable, else read as zeros (counted).
type patched struct {
	base     io.ReaderAt
	holes    []Extent // data-area offsets
	alts     []alt
	borrowed int64 // bytes taken from another member (sectors that failed to read)
	failed   int64 // bytes no member could read: zeros
}

type alt struct {
	r     io.ReaderAt
	holes []Extent // data-area offsets
}

func dataHoles(m *set.Member, ext []Extent) []Extent {
	var out []Extent
	for _, e := range ext {
		lo, hi := max(e.Off, m.DataOffset), e.End()
		if lo < hi {
			out = append(out, Extent{lo - m.DataOffset, hi - lo})
		}
	}
	return out
}

func patchedReader(s *set.Set, i int, base io.ReaderAt, unreadable map[int][]Extent) *patched {
	p := &patched{base: base, holes: dataHoles(s.Members[i], unreadable[s.Members[i].Input])}
	for j, m := range s.Members {
		if j == i {
			continue
		}
		size := m.Image.Size() - m.DataOffset
		if size <= 0 {
			continue
		}
		p.alts = append(p.alts, alt{io.NewSectionReader(m.Image, m.DataOffset, size), dataHoles(m, unreadable[m.Input])})
	}
	return p
}

func covered(holes []Extent, off int64) (in bool, next int64) {
	k := sort.Search(len(holes), func(k int) bool { return holes[k].End() > off })
	if k < len(holes) && holes[k].Off <= off {
		return true, holes[k].End()
	}
	if k < len(holes) {
		return false, holes[k].Off
	}
	return false, math.MaxInt64
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.base.ReadAt(b, off)
	if n < len(b) && err != nil && err != io.EOF {
		// A read error: sector by sector, each failing one from another
		// member, else zeros.
		n, err = len(b), nil
		for lo := 0; lo < len(b); lo += 512 {
			q := b[lo:min(lo+512, len(b))]
			if m, e := p.base.ReadAt(q, off+int64(lo)); m == len(q) || (e == io.EOF && m == len(q)) {
				continue
			}
			got := false
			for _, a := range p.alts {
				if in, _ := covered(a.holes, off+int64(lo)); !in {
					if m, _ := a.r.ReadAt(q, off+int64(lo)); m == len(q) {
						got = true
						break
					}
				}
			}
			if got {
				p.borrowed += int64(len(q))
			} else {
				clear(q)
				p.failed += int64(len(q))
			}
		}
	}
	end := off + int64(n)
	for at := off; at < end; {
		in, next := covered(p.holes, at)
		stop := min(next, end)
		if in {
			got := false
			for _, a := range p.alts {
				if aIn, aNext := covered(a.holes, at); !aIn {
					stop = min(stop, aNext)
					if m, _ := a.r.ReadAt(b[at-off:stop-off], at); m == int(stop-at) {
						got = true
						break
					}
				}
			}
			if got {
				p.borrowed += stop - at
			} else {
				p.failed += stop - at
			}
		}
		at = stop
	}
	return n, err
}
