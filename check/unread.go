package check

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/set"
)

// What makes a byte unreadable.
const (
	CauseReadError = "read-error" // the read failed even sector by sector
	CauseDeclared  = "declared"   // the caller declares it (a ddrescue mapfile, an E01 error section)
)

// Bases of the source of an unreadable range (Salvage.Basis).
const (
	SalvageAuthority = "set-authority" // the authority read it
	SalvageBitmap    = "bitmap"        // outside every dirty chunk of the authority's write-intent bitmap
	SalvageInSync    = "in-sync"       // the metadata, or the data, shows the members in sync
	SalvageStructure = "structure"     // the copy's own structure verifies and its member is not older
	SalvageLost      = "lost"          // no copy the evidence vouches for
)

// MemberUnread is what of one member could not be read.
type MemberUnread struct {
	Bytes, Ranges  int64 // every unreadable byte of the image, data area or not
	ReadErrorBytes int64
	DeclaredBytes  int64
	DataBytes      int64 // of which in the data area
	// List is the first ranges, merged by cause, in image offsets.
	List []UnreadExtent
	// Declared says where the declared ranges come from ("" when none).
	Declared string
	// FirstError is the first read error's text, "" when none.
	FirstError string
	// HashesDropped is set when hashes were asked for but the image has
	// read errors: its bytes are not all known.
	HashesDropped bool
}

// UnreadExtent is one unreadable run of a member image.
type UnreadExtent struct {
	Off, Len int64 // image offsets
	Volume   int64 // data-area offset of Off, -1 when outside the data area
	Cause    string
	Owners   []fs.Owner // of its data-area bytes, through the filesystem
}

// Salvage is one unreadable range of the data area and what a repair
// takes there.
type Salvage struct {
	Offset, Length int64 // data-area offsets
	Unreadable     []int // members that could not read it
	Groups         [][]int
	From           int // member copied from; -1 when lost
	Basis, Reason  string
	Owners         []fs.Owner // distinct owners, through the filesystem (at most maxSalvageOwners)
}

const maxSalvageOwners = 16

// unreadState gathers the unreadable ranges while the diff streams.
type unreadState struct {
	ranges   []UnreadRange
	overflow bool
	bytes    int64
}

func (u *unreadState) add(r UnreadRange) {
	if len(u.ranges) >= maxOverrides {
		u.overflow = true
		u.bytes += r.Length
		return
	}
	u.ranges = append(u.ranges, r)
}

// salvage decides every unreadable range now that the authority is known,
// lists each member's unreadable ranges with their owners, and says so in
// the decision.
func (r *Result) salvage(u *unreadState, opt Options, in *interp, fsv fsVerdict) {
	s := r.Set
	n := len(s.Members)
	auth := idxOf(s, r.Authority)
	older := slices.Clone(in.older)
	for _, i := range fsv.older {
		older[i] = true
	}
	name := func(i int) string { return s.Members[i].Path() }
	ownerLayout := r.ownerLayout(auth)

	// Each member's list.
	r.Unread = make([]MemberUnread, n)
	for i, m := range s.Members {
		mu := &r.Unread[i]
		mu.Declared = opt.UnreadableFrom[m.Input]
		var all []UnreadExtent
		for _, e := range opt.Unreadable[m.Input] {
			all = append(all, UnreadExtent{Off: e.Off, Len: e.Len, Cause: CauseDeclared})
			mu.DeclaredBytes += e.Len
		}
		for _, e := range r.Diff.ReadErrors[i] {
			all = append(all, UnreadExtent{Off: e.Off, Len: e.Len, Cause: CauseReadError})
		}
		mu.ReadErrorBytes = r.Diff.ReadErrorBytes[i]
		if err := r.Diff.FirstReadError[i]; err != nil {
			mu.FirstError = err.Error()
		}
		mu.HashesDropped = len(opt.Hashes) > 0 && mu.ReadErrorBytes > 0
		sort.SliceStable(all, func(a, b int) bool { return all[a].Off < all[b].Off })
		lo, hi := m.DataOffset, m.DataOffset+s.DataSize
		var last *UnreadExtent
		for _, e := range all {
			// Count each byte once, whatever says it is unreadable.
			if last != nil && e.Off < last.Off+last.Len {
				if e.Off+e.Len <= last.Off+last.Len {
					continue
				}
				cut := last.Off + last.Len - e.Off
				e.Off, e.Len = e.Off+cut, e.Len-cut
			}
			mu.Bytes += e.Len
			mu.DataBytes += max(0, min(hi, e.Off+e.Len)-max(lo, e.Off))
			if last != nil && last.Off+last.Len == e.Off && last.Cause == e.Cause {
				last.Len += e.Len
				continue
			}
			mu.Ranges++
			if len(mu.List) < in.maxList {
				mu.List = append(mu.List, e)
				last = &mu.List[len(mu.List)-1]
			} else {
				last = &UnreadExtent{Off: e.Off, Len: e.Len, Cause: e.Cause} // counted, not kept
			}
		}
		mu.Ranges += r.Diff.ReadErrorRanges[i] - int64(len(r.Diff.ReadErrors[i])) // beyond what was kept
		for k := range mu.List {
			e := &mu.List[k]
			e.Volume = -1
			a, b := max(lo, e.Off), min(hi, e.Off+e.Len)
			if a < b {
				e.Volume = e.Off - lo
				if e.Off < lo {
					e.Volume = 0
				}
				l := ownerLayout
				if l == nil && i < len(r.Layouts) {
					l = r.Layouts[i]
				}
				e.Owners = owners(l, a-lo, b-a)
			}
		}
		if mu.Bytes > 0 {
			var why []string
			if mu.ReadErrorBytes > 0 {
				why = append(why, fmt.Sprintf("%d bytes failed to read even sector by sector (first: %s)", mu.ReadErrorBytes, mu.FirstError))
			}
			if mu.DeclaredBytes > 0 {
				src := mu.Declared
				if src == "" {
					src = "the caller"
				}
				why = append(why, fmt.Sprintf("%d bytes are marked unreadable by %s", mu.DeclaredBytes, src))
			}
			r.Problems = append(r.Problems, set.Problem{Code: "unreadable", Severity: set.Warning, Member: m.Path(),
				Message: fmt.Sprintf("%s: %d bytes in %d ranges could not be read from the disk (%d in the data area): %s; they are neither equal nor different, never taken for zeros",
					m.Path(), mu.Bytes, mu.Ranges, mu.DataBytes, strings.Join(why, "; "))})
		}
		if mu.HashesDropped {
			r.Problems = append(r.Problems, set.Problem{Code: "hash-incomplete", Severity: set.Warning, Member: m.Path(),
				Message: fmt.Sprintf("%s: no hash: %d bytes of the image could not be read, so its content is not all known", m.Path(), mu.ReadErrorBytes)})
		}
	}

	// Each unreadable range of the data area.
	lost := map[string]*FileImpact{}
	for _, ur := range u.ranges {
		sv := r.decideUnread(ur, auth, older, fsv, name)
		l := r.namingLayout(ur, auth)
		sv.Owners = owners(l, ur.Offset, ur.Length)
		r.Salvages = append(r.Salvages, sv)
		if sv.From >= 0 {
			r.RecoveredTotal++
			r.RecoveredBytes += sv.Length
			if len(r.Recovered) < in.maxList {
				r.Recovered = append(r.Recovered, sv)
			}
			continue
		}
		r.LostTotal++
		r.LostBytes += sv.Length
		if len(r.Lost) < in.maxList {
			r.Lost = append(r.Lost, sv)
		}
		if l != nil {
			for _, o := range l.Owners(ur.Offset, ur.Length) {
				addImpact(lost, o.Owner, o.Len, &r.LostFilesUnlisted)
			}
		}
	}
	r.LostFiles = impacts(lost)
	if u.overflow {
		r.LostBytes += u.bytes // undecided: counted as lost, and repair refuses
		r.SalvageOverflow = true
		r.Problems = append(r.Problems, set.Problem{Code: "too-many-unreadable", Severity: set.Error,
			Message: fmt.Sprintf("more than %d unreadable ranges; the %d bytes past that limit are not decided, so repair refuses", maxOverrides, u.bytes)})
	}
	if r.RecoveredBytes > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d unreadable bytes in %d ranges are recovered from a member that read them (see recovered, with each range's reason)", r.RecoveredBytes, r.RecoveredTotal))
	}
	if r.LostBytes > 0 {
		var names []string
		for _, f := range r.LostFiles {
			if f.Path != "" && len(names) < 10 {
				names = append(names, f.Path)
			}
		}
		files := ""
		if len(names) > 0 {
			files = "; files with lost data: " + strings.Join(names, ", ")
			if len(r.LostFiles) > len(names) {
				files += ", …"
			}
		}
		r.Problems = append(r.Problems, set.Problem{Code: "data-lost", Severity: set.Error,
			Message: fmt.Sprintf("%d bytes in %d ranges were read by no member whose copy the evidence shows current: they are lost (see lost)%s", r.LostBytes, r.LostTotal, files)})
	}
	if r.Diff.UnreadBytes > 0 && r.Verdict == Consistent {
		r.Verdict = Degraded
		r.Reasons = append(r.Reasons, fmt.Sprintf("the members agree wherever they could be read, but %d bytes of the data area could not be read from some member", r.Diff.UnreadBytes))
	}
}

// namingLayout is the layout that names the owners of an unreadable
// range: the authority's, unless a member that read the range names a file
// where the authority's does not (the structure naming it, an MFT record,
// may lie in the range itself, and the authority's copy of it is zeros).
func (r *Result) namingLayout(ur UnreadRange, auth int) *Layout {
	var order []int
	if auth >= 0 {
		order = append(order, auth)
	}
	for _, g := range ur.Groups {
		order = append(order, g...)
	}
	for i := range r.Layouts {
		order = append(order, i)
	}
	var first *Layout
	for _, i := range order {
		l := r.Layouts[i]
		if l == nil {
			continue
		}
		if first == nil {
			first = l
		}
		for _, o := range l.Owners(ur.Offset, ur.Length) {
			if o.Owner.Path != "" {
				return l
			}
		}
	}
	return first
}

// ownerLayout is the layout whose owners name unreadable ranges: the
// authority's, else the first member's that has one.
func (r *Result) ownerLayout(auth int) *Layout {
	if auth >= 0 && auth < len(r.Layouts) && r.Layouts[auth] != nil {
		return r.Layouts[auth]
	}
	for _, l := range r.Layouts {
		if l != nil {
			return l
		}
	}
	return nil
}

// owners lists the distinct owners of [off, off+n) of the data area.
func owners(l *Layout, off, n int64) []fs.Owner {
	if l == nil || n <= 0 {
		return nil
	}
	var out []fs.Owner
	for _, o := range l.Owners(off, n) {
		if !slices.Contains(out, o.Owner) {
			if len(out) >= maxSalvageOwners {
				break
			}
			out = append(out, o.Owner)
		}
	}
	return out
}

func addImpact(files map[string]*FileImpact, o fs.Owner, n int64, unlisted *int64) {
	if o.FS == "" && o.Structure == "" {
		return
	}
	key := o.Path
	if key == "" {
		key = "[" + o.Structure + "]"
	}
	f := files[key]
	if f == nil {
		if len(files) >= maxFiles {
			*unlisted += n
			return
		}
		f = &FileImpact{Path: o.Path, FS: o.FS}
		files[key] = f
	}
	f.Bytes += n
	st := o.Structure
	if strings.HasPrefix(st, "$MFT record ") {
		st = "$MFT record"
	}
	if !slices.Contains(f.Structures, st) {
		f.Structures = append(f.Structures, st)
	}
}

func impacts(files map[string]*FileImpact) []FileImpact {
	out := make([]FileImpact, 0, len(files))
	for _, f := range files {
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

// decideUnread picks the copy of an unreadable range: the authority's when
// it read it; else a copy that the evidence shows current for this range
// (outside the authority's dirty bitmap chunks, members in sync, or the
// copy's own structure on a member not shown older); else none: lost.
func (r *Result) decideUnread(ur UnreadRange, auth int, older []bool, fsv fsVerdict, name func(int) string) Salvage {
	sv := Salvage{Offset: ur.Offset, Length: ur.Length, Unreadable: ur.Unreadable, Groups: ur.Groups, From: -1, Basis: SalvageLost}
	var unread []string
	for _, i := range ur.Unreadable {
		unread = append(unread, name(i))
	}
	who := strings.Join(unread, ", ")
	if len(ur.Groups) == 0 {
		sv.Reason = "no member could read it"
		return sv
	}
	note := ""
	if len(ur.Groups) > 1 {
		note = fmt.Sprintf("; the members that read it hold %d different copies", len(ur.Groups))
	}
	if auth >= 0 && !slices.Contains(ur.Unreadable, auth) {
		sv.From, sv.Basis = auth, SalvageAuthority
		sv.Reason = fmt.Sprintf("unreadable on %s; the authoritative %s read it%s", who, name(auth), note)
		return sv
	}
	type cand struct {
		g          int
		basis, why string
		member     int
	}
	var cands []cand
	for g, ms := range ur.Groups {
		for _, i := range ms {
			if basis, why := r.vouch(ur, i, auth, older, fsv, name); basis != "" {
				cands = append(cands, cand{g: g, basis: basis, why: why, member: i})
				break
			}
		}
	}
	switch {
	case len(cands) == 1:
		sv.From, sv.Basis = cands[0].member, cands[0].basis
		sv.Reason = fmt.Sprintf("unreadable on %s; %s%s", who, cands[0].why, note)
		return sv
	case len(cands) > 1:
		sv.Reason = fmt.Sprintf("unreadable on %s; %d different copies are each vouched for, so none is taken", who, len(cands))
		return sv
	}
	var readers []string
	for _, g := range ur.Groups {
		for _, i := range g {
			readers = append(readers, name(i))
		}
	}
	switch {
	case auth < 0:
		sv.Reason = fmt.Sprintf("unreadable on %s; read by %s, but no authority is known and nothing shows that copy current", who, strings.Join(readers, ", "))
	default:
		sv.Reason = fmt.Sprintf("unreadable on the authoritative %s; read by %s, but no evidence shows that copy current for this range%s", name(auth), strings.Join(readers, ", "), r.whyNot(ur, auth, older))
	}
	return sv
}

// vouch says whether member i's copy of an unreadable range is shown
// current, and by what.
func (r *Result) vouch(ur UnreadRange, i, auth int, older []bool, fsv fsVerdict, name func(int) string) (basis, why string) {
	s := r.Set
	m := s.Members[i]
	end := ur.Offset + ur.Length
	// A copy that fails its own structural check is vouched for by nothing.
	var judged fs.Judgement
	if i < len(r.Layouts) && r.Layouts[i] != nil {
		judged = r.Layouts[i].Judge(ur.Offset, ur.Length)
		if judged.Intact < 0 {
			return "", ""
		}
	}
	// md: the authority's write-intent bitmap records every chunk written
	// since m stopped receiving writes; outside them m's copy is current.
	if auth >= 0 && s.Bitmap != nil && s.BitmapMember == r.Authority && m.MD != nil && m.MD.Events >= s.Bitmap.EventsCleared && s.Bitmap.ChunkSize > 0 {
		if dirty := dirtyIn(s, ur.Offset, ur.Length); !dirty {
			return SalvageBitmap, fmt.Sprintf("%s's copy is current: the range lies outside every dirty chunk of %s's write-intent bitmap (chunks of %d bytes; %s's events %d >= events_cleared %d, so every write it missed is marked)",
				name(i), name(auth), s.Bitmap.ChunkSize, name(i), m.MD.Events, s.Bitmap.EventsCleared)
		}
	}
	if older[i] {
		return "", ""
	}
	// The metadata names both current, and they agree everywhere both read.
	if auth >= 0 && contains(s.Fresh, m) && contains(s.Fresh, r.Authority) && s.Conflict == "" && r.Diff.PairBytes[i][auth] == 0 &&
		(s.ResyncFrom < 0 || end <= s.ResyncFrom) {
		return SalvageInSync, fmt.Sprintf("the metadata names %s and %s both current (in sync), and their data is identical wherever both were read", name(i), name(auth))
	}
	// No metadata order, and the data identical wherever read.
	if auth < 0 && r.Diff.Bytes == 0 && silent(s) {
		return SalvageInSync, fmt.Sprintf("the members hold identical data wherever they were read and no evidence shows %s older", name(i))
	}
	if auth >= 0 && r.Basis == BasisFilesystem && r.Diff.PairBytes[i][auth] == 0 {
		return SalvageInSync, fmt.Sprintf("%s holds the same data as the authoritative %s wherever both were read and no evidence shows it older", name(i), name(auth))
	}
	// Damaged, not older: every byte where it differs from the authority
	// is a copy that fails its own checks (torn records, a torn FAT), so
	// the rest of it is as current as the authority.
	if auth >= 0 && r.Basis == BasisFilesystem && fsv.torn != nil && i < len(fsv.torn) && fsv.torn[i] >= r.Diff.PairBytes[i][auth] {
		return SalvageInSync, fmt.Sprintf("%s differs from the authoritative %s only where its own copies fail their checks (%d bytes): damaged, not older, so its copy here is current", name(i), name(auth), fsv.torn[i])
	}
	// The copy's own structure verifies, on a member not shown older.
	if judged.Intact > 0 {
		return SalvageStructure, fmt.Sprintf("%s's copy verifies (%s) and no evidence shows %s older", name(i), judged.Reason, name(i))
	}
	return "", ""
}

// whyNot adds, for a lost range, why the bitmap did not vouch.
func (r *Result) whyNot(ur UnreadRange, auth int, older []bool) string {
	s := r.Set
	if s.Bitmap != nil && s.BitmapMember == r.Authority && dirtyIn(s, ur.Offset, ur.Length) {
		return fmt.Sprintf(" (it lies in a dirty chunk of %s's write-intent bitmap: written after the other members left)", s.BitmapMember.Path())
	}
	for _, g := range ur.Groups {
		for _, i := range g {
			if older[i] {
				return fmt.Sprintf(" (%s is older than the authority)", s.Members[i].Path())
			}
		}
	}
	return ""
}

// dirtyIn reports whether any chunk of the set's bitmap meeting
// [off, off+n) is dirty, or the range reaches past the bitmap.
func dirtyIn(s *set.Set, off, n int64) bool {
	b := s.Bitmap
	last := (off + n - 1) / b.ChunkSize
	if last >= b.NBits {
		return true
	}
	for k := off / b.ChunkSize; k <= last; k++ {
		if b.Dirty(k) {
			return true
		}
	}
	return false
}
