package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/set"
)

// Options are the settings of one Check.
type Options struct {
	SectorSize int
	MaxRanges  int
	Hashes     []string
	// Prefer is the member the user names as authoritative, or nil.
	Prefer   *set.Member
	Progress func(done, total int64)
	// Now is the scan's clock, nil for time.Now: filesystem timestamps
	// after it are damage, not evidence of a later write.
	Now func() time.Time
	// Openers are the filesystem readers tried on each member's data area,
	// in order; nil means DefaultOpeners, an empty non-nil slice none.
	Openers []Opener
	// Unreadable gives, by Member.Input, the byte ranges of a member image
	// known not to have been read from its disk (a ddrescue mapfile's
	// unfinished blocks, an E01 error section), in image offsets, in order
	// and not overlapping; UnreadableFrom says where each list comes from
	// ("mapfile m0.img.map"), for the report.
	Unreadable     map[int][]Extent
	UnreadableFrom map[int]string
	// ChunkSize is the diff's read size (DiffOptions.ChunkSize), 1 MiB
	// when zero; the fuzz targets use less, to allocate less per input.
	ChunkSize int
}

// Result is one set checked: the diff, the decision, and its evidence.
type Result struct {
	Set  *set.Set
	Diff *DiffResult
	// PairRanges[i][j] counts the differing ranges in which members i and j
	// (indices into Set.Members) fall into different groups, including
	// ranges beyond the listing limit.
	PairRanges [][]int64
	Decision

	// Layouts[i] is member i's partition table and filesystems; nil when
	// none was read.
	Layouts []*Layout
	// Pieces are the listed differing ranges split at owner boundaries,
	// each with its owners and source; PiecesTotal counts all of them.
	Pieces      []Piece
	PiecesTotal int64
	Files       []FileImpact // files and structures the divergence touches
	FilesLost   int64        // bytes in files past the listing limit
	// Overrides are the ranges a repair copies from another member than
	// the authority, because their own evidence says so.
	Overrides []Override
	// Undecided is the number of differing bytes no evidence decides and
	// no authority covers.
	Undecided int64
	// PiecePairs[i][j] counts the pieces (ranges split at owner
	// boundaries) in which members i and j differ, listed or not.
	PiecePairs [][]int64

	// Unread[i] is what of member i could not be read.
	Unread []MemberUnread
	// Salvages decides every unreadable range of the data area (a repair
	// writes them all); Recovered and Lost list the first of those taken
	// from a member and of those no copy vouches for, with totals.
	Salvages                       []Salvage
	SalvageOverflow                bool // too many to keep: repair refuses
	Recovered, Lost                []Salvage
	RecoveredTotal, RecoveredBytes int64
	LostTotal, LostBytes           int64
	// LostFiles are the files and structures with lost bytes, largest
	// first; LostFilesUnlisted counts the lost bytes past the listing limit.
	LostFiles         []FileImpact
	LostFilesUnlisted int64
}

// Override is a range copied from another member than the authority.
type Override struct {
	Offset, Length int64
	From           *set.Member
	Groups         [][]int
	Basis, Reason  string
}

// Decision is the verdict on a set and the member it takes as current.
type Decision struct {
	Verdict   string
	Authority *set.Member // nil when no member can be shown current
	Basis     string
	Reasons   []string
	// States holds each member's state after weighing the data (keyed by
	// Member.Input); it starts from the metadata's claim.
	States   map[int]string
	Problems []set.Problem
	// BitmapCovers is nil when the bitmap check does not apply, else whether
	// every differing range lies in dirty chunks of the freshest bitmap.
	BitmapCovers *bool
	Uncovered    []int64 // volume offsets of ranges outside dirty chunks (at most maxUncovered)
}

// Verdicts.
const (
	Consistent = "consistent"
	Diverged   = "diverged"
	SplitBrain = "split-brain"
	Degraded   = "degraded"
	Unknown    = "unknown"
)

// Authority bases.
const (
	BasisMetadata   = "set-metadata"
	BasisFilesystem = "filesystem"
	BasisUser       = "user"
	BasisNone       = "none"
)

const maxUncovered = 100

// Check diffs the members of s and decides which one is authoritative.
// It reads the members and never writes.
func Check(ctx context.Context, s *set.Set, opt Options) (*Result, error) {
	if len(s.Members) == 0 {
		// A set the metadata describes but none of whose members is among
		// the inputs (NT FT: every member missing or misplaced): nothing
		// to read, and no error either.
		return &Result{Set: s, Diff: &DiffResult{}, Decision: Decision{Verdict: Unknown, Basis: BasisNone, States: map[int]string{},
			Reasons: append(append([]string(nil), s.Reasons...), "no member of the set is among the inputs: nothing was compared")}}, nil
	}
	srcs := make([]Source, len(s.Members))
	for i, m := range s.Members {
		srcs[i] = Source{Name: m.Path(), R: m.Image, Size: m.Image.Size(), DataOffset: m.DataOffset, Holes: m.Image, Unreadable: opt.Unreadable[m.Input]}
		// A container's stored media hashes are verified in the same pass.
		for _, a := range []string{"md5", "sha1", "sha256"} {
			if _, ok := m.Image.Info().StoredHashes[a]; ok {
				srcs[i].ExtraHashes = append(srcs[i].ExtraHashes, a)
			}
		}
	}
	dataSize := s.DataSize
	if s.Level != "" && s.Level != "raid1" {
		dataSize = 0 // not a mirror: hash only
	}
	openers := opt.Openers
	if openers == nil {
		openers = DefaultOpeners
	}
	layouts, notes := memberFS(s, opt.SectorSize, openers, opt.Unreadable)
	maxList := opt.MaxRanges
	if maxList == 0 {
		maxList = defaultMaxRanges
	}
	in := newInterp(s, layouts, maxList)
	in.now = time.Now()
	if opt.Now != nil {
		in.now = opt.Now()
	}
	switch {
	case opt.Prefer != nil:
		in.known = idxOf(s, opt.Prefer)
	case len(s.Fresh) == 1 && s.Conflict == "" && s.Doubt == "" && s.Format != "ftdisk" && (s.Level == "" || s.Level == "raid1"):
		in.known = idxOf(s, s.Fresh[0]) // decide takes it (the ftdisk registry can be overruled)
	}
	cov := newCoverage(s)
	var f streamed
	pairs := make([][]int64, len(s.Members))
	for i := range pairs {
		pairs[i] = make([]int64, len(s.Members))
	}
	onRange := func(r Range) {
		cov.add(r)
		in.add(r)
		if s.ResyncFrom < 0 || r.Offset < s.ResyncFrom {
			f.belowResync = true
		}
		countPairs(r.Groups, pairs)
	}
	var unread unreadState
	d, err := Diff(ctx, srcs, DiffOptions{
		DataSize:   dataSize,
		SectorSize: opt.SectorSize,
		MaxRanges:  opt.MaxRanges,
		Hashes:     opt.Hashes,
		Progress:   opt.Progress,
		OnRange:    onRange,
		OnUnread:   unread.add,
		ChunkSize:  opt.ChunkSize,
	})
	if err != nil {
		return nil, err
	}
	fsv := in.fsAuthority(d.PairBytes)
	r := &Result{Set: s, Diff: d, PairRanges: pairs, Decision: decide(s, d, opt.Prefer, f, fsv), Layouts: layouts}
	cov.finish(&r.Decision)
	r.interpret(in, fsv, notes)
	r.salvage(&unread, opt, in, fsv)
	return r, nil
}

// streamed is what Check learns about the ranges while the diff streams,
// beyond what DiffResult keeps.
type streamed struct {
	// belowResync is set when some differing range starts below the set's
	// ResyncFrom (or the set was clean): a difference md cannot excuse.
	belowResync bool
}

// decide weighs the set metadata's claims against the diff.
func decide(s *set.Set, d *DiffResult, prefer *set.Member, f streamed, fsv fsVerdict) Decision {
	dec := Decision{States: map[int]string{}, Basis: BasisNone}
	idx := map[*set.Member]int{}
	for i, m := range s.Members {
		dec.States[m.Input] = m.State
		idx[m] = i
	}
	differ := func(a, b *set.Member) int64 { return d.PairBytes[idx[a]][idx[b]] }
	dec.Reasons = append(dec.Reasons, s.Reasons...)
	unclean := s.ResyncFrom >= 0 && !f.belowResync // every difference is where md allows one

	notMirror := s.Level != "" && s.Level != "raid1"
	switch {
	case notMirror:
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("level %s is not a mirror: members are not compared", s.Level))
	case prefer != nil:
		dec.Authority, dec.Basis = prefer, BasisUser
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s was named authoritative by --prefer", prefer.Path()))
		if len(s.Fresh) > 0 && !contains(s.Fresh, prefer) && s.Conflict == "" {
			// The user's choice is recorded, not turned into the
			// metadata's: each member keeps the state its metadata gives.
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("note: the set metadata names %s as current; --prefer overrides it", paths(s.Fresh)))
			dec.Problems = append(dec.Problems, set.Problem{Code: "prefer-overrides-metadata", Severity: set.Warning, Member: prefer.Path(),
				Message: fmt.Sprintf("--prefer %s goes against the set metadata, which names %s as current (%s is %s by its metadata); a repair copies %s's data over the others",
					prefer.Path(), paths(s.Fresh), prefer.Path(), prefer.State, prefer.Path())})
		}
		if s.Conflict != "" {
			dec.Reasons = append(dec.Reasons, "the metadata describes a split brain ("+s.Conflict+"); --prefer resolves it")
		}
	case s.Conflict != "":
		dec.Reasons = append(dec.Reasons, "split brain: "+s.Conflict+"; no member can be shown current (use --prefer)")
		dec.Reasons = append(dec.Reasons, fsHint(s, fsv)...)
	case s.Adhoc() && d.Bytes > 0 && fsv.mutual != "":
		// Each member has writes the other lacks: taking either would
		// throw the other's away.
		dec.Reasons = append(dec.Reasons, "split brain: "+fsv.mutual+"; both were written independently and no member can be taken (use --prefer)")
		dec.Reasons = append(dec.Reasons, "filesystem evidence, overruled by the split brain (a journal sequence or timestamp ranks the members, but cannot show that one lacks the other's writes): "+strings.Join(fsv.reasons, "; "))
		dec.Problems = append(dec.Problems, set.Problem{Code: "split-brain", Severity: set.Error,
			Message: fmt.Sprintf("the members were written independently: %s; name the member to keep with --prefer", fsv.mutual)})
	case len(s.Missing) > 0:
		// Members of the set are not among the inputs: the set metadata
		// names no current member (set.withholdMissing gave the reasons),
		// and neither does the data of the members given, which is only
		// part of the set.
	case silent(s) && len(s.Fresh) != 1 && d.Bytes > 0 && fsv.member >= 0:
		dec.Authority, dec.Basis = s.Members[fsv.member], BasisFilesystem
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("the members differ and the set metadata does not say which is current; the filesystem evidence names %s: %s",
			s.Members[fsv.member].Path(), strings.Join(fsv.reasons, "; ")))
	case len(s.Fresh) == 1 && s.Doubt != "" && d.Bytes > 0:
		// The metadata's choice is in doubt (for NT FT: the KB Q197366
		// signs): where the members differ, the filesystems decide, or
		// nothing does.
		if fsv.member >= 0 {
			dec.Authority, dec.Basis = s.Members[fsv.member], BasisFilesystem
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("the metadata names %s as current, but its choice is in doubt (%s); the filesystem evidence names %s: %s",
				s.Fresh[0].Path(), s.Doubt, s.Members[fsv.member].Path(), strings.Join(fsv.reasons, "; ")))
			break
		}
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("the metadata names %s as current, but its choice is in doubt (%s) and the filesystems do not decide (%s): no member is taken (use --prefer)",
			s.Fresh[0].Path(), s.Doubt, strings.Join(fsv.reasons, "; ")))
		dec.Problems = append(dec.Problems, set.Problem{Code: "metadata-in-doubt", Severity: set.Error,
			Message: fmt.Sprintf("the members differ in %d bytes, the metadata's choice of %s is in doubt (%s), and nothing else says which copy is current; name one with --prefer", d.Bytes, s.Fresh[0].Path(), s.Doubt)})
	case len(s.Fresh) == 1 && s.Format == "ftdisk" && fsv.member >= 0 && differ(s.Members[fsv.member], s.Fresh[0]) > 0:
		// KB Q197366: the registry's member states are known to go wrong
		// after a failure; when the data's own evidence names the member
		// the registry calls stale, neither is followed blindly.
		fm := s.Members[fsv.member]
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("the NT FT metadata (registry member states, MBR partition types) names %s as current but the filesystem evidence names %s (%s): they disagree, as in KB Q197366; no member is taken (use --prefer)",
			s.Fresh[0].Path(), fm.Path(), strings.Join(fsv.reasons, "; ")))
	case len(s.Fresh) == 1:
		dec.Authority, dec.Basis = s.Fresh[0], BasisMetadata
		if s.Fresh[0].Generation == nil {
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s is the member the metadata names current, and is authoritative", s.Fresh[0].Path()))
		} else {
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s holds the highest generation and is authoritative", s.Fresh[0].Path()))
		}
	case len(s.Fresh) > 1:
		var split []string
		for _, a := range s.Fresh {
			for _, b := range s.Fresh {
				if idx[a] < idx[b] && differ(a, b) > 0 {
					split = append(split, fmt.Sprintf("%s and %s differ in %d bytes", a.Path(), b.Path(), differ(a, b)))
				}
			}
		}
		switch {
		case len(split) == 0:
			dec.Authority, dec.Basis = s.Fresh[0], BasisMetadata
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s share the highest generation and hold identical data; %s (lowest slot) is taken as authoritative",
				paths(s.Fresh), s.Fresh[0].Path()))
		case unclean:
			dec.Authority, dec.Basis = s.Fresh[0], BasisMetadata
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s share the highest generation; the array was not clean at its last write and every difference lies at or above resync offset byte %d, where md accepts either copy (it would resync from the first); %s (lowest slot) is taken",
				paths(s.Fresh), s.ResyncFrom, s.Fresh[0].Path()))
		case silent(s):
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s; the filesystems do not say which is current either: %s (use --prefer)",
				strings.Join(split, "; "), strings.Join(fsv.reasons, "; ")))
			dec.Problems = append(dec.Problems, set.Problem{Code: "no-authority", Severity: set.Error,
				Message: fmt.Sprintf("the members differ in %d bytes and neither the set metadata nor the filesystems record which copy is current; name one with --prefer", d.Bytes)})
		default:
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("split brain: %s share the highest generation %s but %s; the metadata cannot say which is current (use --prefer)",
				paths(s.Fresh), generation(s.Fresh[0]), strings.Join(split, "; ")))
			dec.Reasons = append(dec.Reasons, fsHint(s, fsv)...)
			dec.Problems = append(dec.Problems, set.Problem{Code: "split-brain", Severity: set.Error,
				Message: fmt.Sprintf("%s have equal generations %s but different data", paths(s.Fresh), generation(s.Fresh[0]))})
		}
	case s.Adhoc():
		if d.Bytes > 0 {
			dec.Reasons = append(dec.Reasons, "the members differ and no set metadata says which is current (use --prefer)")
			dec.Reasons = append(dec.Reasons, "filesystem evidence: "+strings.Join(fsv.reasons, "; "))
			for _, i := range fsv.older {
				m := s.Members[i]
				dec.States[m.Input] = set.StateStale
				dec.Problems = append(dec.Problems, set.Problem{Code: "stale-member", Severity: set.Error, Member: m.Path(),
					Message: fmt.Sprintf("%s was written before the other members by its filesystem's evidence (%s)", m.Path(), fsv.why)})
			}
			dec.Problems = append(dec.Problems, set.Problem{Code: "no-authority", Severity: set.Error,
				Message: fmt.Sprintf("the members differ in %d bytes and nothing records which copy is current; name one with --prefer", d.Bytes)})
		}
	default:
		// Not only "no trusted superblock": an IMSM rebuild whose target
		// cannot be told from the images ends here too (set/imsmset.go).
		dec.Reasons = append(dec.Reasons, "the set metadata shows no member as current (no trusted, active member of the highest generation)")
	}

	auth := dec.Authority
	overridden := prefer != nil && len(s.Fresh) > 0 && !contains(s.Fresh, prefer) && s.Conflict == ""
	if auth != nil {
		if !overridden {
			dec.States[auth.Input] = set.StateActive
		}
		for _, m := range s.Members {
			if m == auth {
				continue
			}
			n := differ(auth, m)
			switch {
			case n > 0 && dec.States[m.Input] == set.StateActive && !s.Adhoc() && prefer == nil && dec.Basis == BasisMetadata:
				sev, why := set.Error, "the metadata says they are in sync"
				if unclean {
					sev, why = set.Info, "the array was not clean and every difference lies above the resync offset, where they are expected"
				}
				dec.Problems = append(dec.Problems, set.Problem{Code: "data-differs", Severity: sev, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from %s in %d bytes although %s", m.Path(), auth.Path(), n, why)})
			case n > 0 && fsv.torn != nil && fsv.torn[idx[m]] >= n && dec.Basis != BasisMetadata:
				// Not behind: every byte where it differs is a copy that
				// fails its own checks (torn records, a torn FAT).
				dec.Problems = append(dec.Problems, set.Problem{Code: "damaged-member", Severity: set.Error, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from %s in %d bytes, all in structures whose copy on %s fails its own checks (see the ranges taken by structure)", m.Path(), auth.Path(), n, m.Path())})
			case n > 0 && dec.Basis == BasisFilesystem && fsv.decided:
				dec.Problems = append(dec.Problems, set.Problem{Code: "member-differs", Severity: set.Warning, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from %s in %d bytes; no evidence shows either older, and each differing range is taken from the copy its own evidence names (see the ranges)", m.Path(), auth.Path(), n)})
			case n > 0 && (s.Adhoc() || prefer != nil || dec.Basis == BasisFilesystem) && !overridden && dec.States[m.Input] != set.StateFaulty && dec.States[m.Input] != set.StateSpare:
				dec.States[m.Input] = set.StateStale
				dec.Problems = append(dec.Problems, set.Problem{Code: "stale-member", Severity: set.Error, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from the authoritative %s in %d bytes", m.Path(), auth.Path(), n)})
			}
		}
	}

	// Degraded: a member out of the array, missing, duplicated or short.
	// A spare is not part of the mirror, so it degrades nothing.
	degraded := false
	for _, st := range dec.States {
		if st != set.StateActive && st != set.StateSpare && !(s.Adhoc() && st == set.StateUnknown) {
			degraded = true
		}
	}
	for _, p := range s.Problems {
		switch p.Code {
		case "size-mismatch", "member-missing", "duplicate-member":
			degraded = true
		}
	}
	switch {
	case notMirror:
		dec.Verdict = Unknown
	case s.Conflict != "" && auth == nil, d.Bytes > 0 && auth == nil && len(s.Fresh) > 1 && !silent(s),
		s.Adhoc() && d.Bytes > 0 && auth == nil && fsv.mutual != "",
		d.Bytes > 0 && auth == nil && (s.Format == "ftdisk" || s.Doubt != "") && len(s.Fresh) == 1 && prefer == nil:
		dec.Verdict = SplitBrain
	case auth == nil && len(s.Missing) > 0:
		dec.Verdict = Degraded // members missing: no authority, the reasons say why
	case d.Bytes > 0 && auth == nil && silent(s):
		dec.Verdict = Diverged // no authority: the no-authority problem says so
	case d.Bytes > 0 && auth == nil:
		dec.Verdict = Unknown
	case d.Bytes > 0:
		dec.Verdict = Diverged
	case !s.Adhoc() && len(s.Fresh) == 0 && auth == nil:
		dec.Verdict = Unknown
	case degraded:
		dec.Verdict = Degraded
	default:
		dec.Verdict = Consistent
	}
	if s.Adhoc() && dec.Verdict == Consistent {
		dec.Reasons = append(dec.Reasons, "the members hold identical data, so no authority is needed")
	}
	return dec
}

// coverage checks, range by range while the diff streams, whether every
// difference lies in a dirty chunk of the freshest member's bitmap.
type coverage struct {
	s         *set.Set
	on        bool
	all       bool
	uncovered []int64
	count     int64
}

func newCoverage(s *set.Set) *coverage {
	c := &coverage{s: s, all: true}
	if s.Bitmap == nil {
		return c
	}
	for _, m := range s.Members {
		if m.State == set.StateStale && m.MD != nil && m.MD.Events >= s.Bitmap.EventsCleared {
			c.on = true
		}
	}
	return c
}

func (c *coverage) add(r Range) {
	if !c.on || c.s.Bitmap.Covers(r.Offset, r.Length) {
		return
	}
	c.all = false
	c.count++
	if len(c.uncovered) < maxUncovered {
		c.uncovered = append(c.uncovered, r.Offset)
	}
}

func (c *coverage) finish(dec *Decision) {
	if !c.on {
		return
	}
	all := c.all
	dec.BitmapCovers = &all
	dec.Uncovered = c.uncovered
	bm := c.s.BitmapMember
	if all {
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("every differing range lies in a dirty chunk of %s's write-intent bitmap: the bitmap agrees with the data", bm.Path()))
		return
	}
	dec.Problems = append(dec.Problems, set.Problem{Code: "bitmap-uncovered", Severity: set.Warning, Member: bm.Path(),
		Message: fmt.Sprintf("%d differing ranges lie outside the dirty chunks of %s's write-intent bitmap (first at data offset %d): the bitmap does not describe every difference and cannot be trusted for a partial resync",
			c.count, bm.Path(), c.uncovered[0])})
}

// silent reports whether the set's metadata records no order among its
// current members, so that the data and the filesystems must decide: images
// without metadata, and NT FT sets whose registry shows every member Healthy.
func silent(s *set.Set) bool { return s.Adhoc() || s.Format == "ftdisk" }

// fsHint says what the filesystems suggest where the metadata is in
// conflict; a hint only: a split brain is resolved by the user.
func fsHint(s *set.Set, fsv fsVerdict) []string {
	if fsv.member < 0 {
		return nil
	}
	return []string{fmt.Sprintf("the filesystem evidence points at %s (%s); if that is right, --prefer %s follows it",
		s.Members[fsv.member].Path(), strings.Join(fsv.reasons, "; "), s.Members[fsv.member].Path())}
}

func generation(m *set.Member) string {
	if m.Generation == nil {
		return "(none)"
	}
	return fmt.Sprint(*m.Generation)
}

func contains(ms []*set.Member, m *set.Member) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func paths(ms []*set.Member) string {
	var p []string
	for _, m := range ms {
		p = append(p, m.Path())
	}
	return strings.Join(p, ", ")
}

func hasProblem(s *set.Set, code string) bool {
	for _, p := range s.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}
