// Package set reads the mirror-set metadata of member images and groups
// the images into sets. It reports what each member's metadata claims (its
// role, state and generation) and which member the metadata names as the
// freshest; it does not look at the data. Package check weighs these claims
// against the data.
//
// Each on-disk format lives in its own subpackage (set/md, …) that decodes
// from an io.ReaderAt. This package adapts them to one model: a new format
// adds a detector to the list in detect.go and a file here that turns its
// decoded structures into Members and claims.
package set

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/ddf"
	"github.com/mirrorchk/mirrorchk/set/imsm"
	"github.com/mirrorchk/mirrorchk/set/ldm"
	"github.com/mirrorchk/mirrorchk/set/md"
)

// Member states, as the report names them.
const (
	StateActive     = "active"
	StateStale      = "stale"
	StateFaulty     = "faulty"
	StateSpare      = "spare"
	StateRebuilding = "rebuilding"
	StateMissing    = "missing"
	StateUnknown    = "unknown"
)

// Problem severities.
const (
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Problem is a finding about the metadata: not an error in reading it, but
// something the report must say.
type Problem struct {
	Code     string
	Severity string
	Member   string // path, or ""
	Offset   *int64 // byte offset in the member, when known
	Message  string
}

// Member is one input image and what its metadata says about it.
type Member struct {
	Input      int // position on the command line
	Image      *image.Image
	Role       string  // "0", "1", … for a data slot; "spare", "faulty", "" when unknown
	State      string  // one of the State constants
	Generation *uint64 // md events; nil without metadata
	DataOffset int64   // bytes from the image start
	DataSize   int64   // bytes of data area the metadata declares (or the image size)
	Trusted    bool    // the metadata is valid and may be used as evidence
	Evidence   []string

	MD     *md.Superblock // nil unless Format is md
	Bitmap *md.Bitmap     // this member's own write-intent bitmap, nil when none
	IMSM   *imsm.MPB      // nil unless Format is imsm
	DDF    *ddf.DDF       // nil unless Format is ddf
	LDM    *ldm.Database  // nil unless Format is ldm
	FT     *FTMember      // nil unless Format is ftdisk
}

// Path is the member's path as the user gave it.
func (m *Member) Path() string { return m.Image.Path() }

func (m *Member) addEvidence(format string, args ...any) {
	m.Evidence = append(m.Evidence, fmt.Sprintf(format, args...))
}

// Set is a group of member images that the metadata says form one mirror.
type Set struct {
	ID        string // array UUID, or "adhoc-1"
	Name      string
	Format    string // "md-1.2", …, "none"
	Level     string // "raid1", or "" when unknown
	RaidDisks int    // slots declared by the metadata; 0 when unknown
	DataSize  int64  // bytes of each member's data area to compare
	Members   []*Member

	// Fresh lists the members the metadata names as current (the highest
	// generation among trusted active members). More than one means the
	// metadata alone cannot pick a single authority; check then looks at
	// the data.
	Fresh []*Member
	// Reasons say, rule by rule, how Fresh was chosen.
	Reasons []string
	// Conflict is set when the metadata itself describes a split brain
	// (members that each record the other as failed).
	Conflict string
	// Doubt says why the metadata's choice in Fresh cannot be followed
	// alone (NT FT: hives that disagree, states that look swapped between
	// sets, MBR marks on the other disk); "" when it can. Where the members
	// differ, check then decides from the filesystems, or not at all.
	Doubt string
	// Missing names the members the metadata declares that are not among
	// the inputs ("slot 1", "plex Volume1-01 on disk Disk2"), in slot
	// order; nil when every member was given. A set with members missing
	// has no Fresh member (withholdMissing): a member that is not given may
	// hold a later generation than any given one.
	Missing []string
	// FTAllHealthy is set for an NT FT set whose registry entry shows
	// every member Healthy (the registry itself records no authority).
	FTAllHealthy bool

	// Bitmap is the freshest member's write-intent bitmap, nil when none.
	Bitmap       *md.Bitmap
	BitmapMember *Member

	// ResyncFrom is the data-area byte offset above which the array was not
	// known to be in sync at the last write (unclean shutdown), or -1.
	ResyncFrom int64

	Problems []Problem
}

// Adhoc reports whether the set was formed without metadata.
func (s *Set) Adhoc() bool { return s.Format == FormatNone }

// FormatNone is the Format of a set formed without metadata.
const FormatNone = "none"

func (s *Set) problem(code, sev string, m *Member, off *int64, format string, args ...any) {
	p := Problem{Code: code, Severity: sev, Offset: off, Message: fmt.Sprintf(format, args...)}
	if m != nil {
		p.Member = m.Path()
	}
	s.Problems = append(s.Problems, p)
}

func ptr[T any](v T) *T { return &v }

// pruneMembers takes out of s the images its metadata gives no slot (they
// belong to the container or group but not to this volume: comparing them
// would be meaningless and repairing them would overwrite another volume),
// and reports two images claiming one slot as copies of one member.
func pruneMembers(s *Set, volume string) {
	var keep []*Member
	bySlot := map[string]*Member{}
	for _, m := range s.Members {
		if m.Role == "" {
			s.problem("not-in-set", Info, m, nil, "%s holds no slot of %s: not compared with its members", m.Path(), volume)
			continue
		}
		if o, ok := bySlot[m.Role]; ok {
			s.problem("duplicate-member", Error, m, nil, "%s and %s both hold slot %s of %s: two copies of one disk, not two members", o.Path(), m.Path(), m.Role, volume)
		} else {
			bySlot[m.Role] = m
		}
		keep = append(keep, m)
	}
	s.Members = keep
}

// memberDataSize is the data area every member of s declares (LDM plexes,
// DDF members each carry their own length): the smallest, with a
// size-mismatch problem when they differ.
func memberDataSize(s *Set) int64 {
	var n int64 = -1
	for _, m := range s.Members {
		if n < 0 || m.DataSize < n {
			n = m.DataSize
		}
	}
	// A member that declares more than the others is not short: the
	// mirror is the common part, compared and repaired in full; its own
	// tail is left as it is.
	for _, m := range s.Members {
		if m.DataSize != n {
			s.problem("data-area-larger", Warning, m, nil, "%s's data area is %d bytes, the other members' %d: the mirror is the first %d bytes, which are compared; the %d bytes beyond are left as they are", m.Path(), m.DataSize, n, n, m.DataSize-n)
		}
	}
	return max(n, 0)
}

func memberOf(s *Set, input int) *Member {
	for _, m := range s.Members {
		if m.Input == input {
			return m
		}
	}
	return nil
}

// sortFresh orders s.Fresh by slot, so that "the lowest slot" is first.
func sortFresh(s *Set) {
	slot := func(m *Member) int {
		n, err := strconv.Atoi(m.Role)
		if err != nil {
			return 1 << 30
		}
		return n
	}
	sort.SliceStable(s.Fresh, func(i, j int) bool { return slot(s.Fresh[i]) < slot(s.Fresh[j]) })
}

func contains(ms []*Member, m *Member) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// Given returns how many of the set's slots the members given fill, and how
// many members the metadata declares (Missing counts those not given).
func (s *Set) Given() (given, declared int) {
	slots := map[string]bool{}
	for _, m := range s.Members {
		if _, err := strconv.Atoi(m.Role); err == nil {
			slots[m.Role] = true
		}
	}
	return len(slots), max(s.RaidDisks, len(slots)+len(s.Missing))
}

// withholdMissing is the rule for a set some of whose members are not
// among the inputs (s.Missing): the metadata then names no current member.
// A generation is compared only with the generations of the members given;
// a member that is not given may hold a later one (it may have run without
// the given ones, on its own or in a split brain), and nothing in the
// given images can show that it does not. Not even a given member whose own
// metadata records every missing member as failed or removed is current:
// the array ran degraded from it at its last write, but the missing member
// may have been started on its own since. So Fresh is emptied, and the
// reasons say how many members were given, what the freshest given one
// holds and what it records of the missing ones. Staleness found among
// the given members stands: a member behind another given member is behind
// whatever the missing ones hold.
func withholdMissing(s *Set) {
	if len(s.Missing) == 0 {
		return
	}
	given, declared := s.Given()
	head := fmt.Sprintf("no authority: %d of %d members given (%s not given)", given, declared, strings.Join(s.Missing, ", "))
	if len(s.Fresh) == 0 {
		s.Reasons = append(s.Reasons, head+": no member is called current")
		return
	}
	var names, gens []string
	for _, m := range s.Fresh {
		names = append(names, m.Path())
		if g := generationText(s, m); g != "" {
			gens = append(gens, m.Path()+"'s "+g)
		}
	}
	what := strings.Join(names, ", ") + " would be current by the metadata of the members given"
	if len(gens) > 0 {
		what = strings.Join(gens, ", ") + " is the highest among the members given"
	}
	s.Reasons = append(s.Reasons, fmt.Sprintf("%s: %s, but it cannot be compared with the missing %s: a member that is not given may hold a later generation (or have run on its own since), so no member is called current",
		head, what, plural(len(s.Missing), "member's", "members'")))
	if strings.HasPrefix(s.Format, "md-") {
		s.Reasons = append(s.Reasons, mdMissingView(s, s.Fresh[0])...)
	}
	for _, m := range s.Fresh {
		m.addEvidence("not current by the metadata: %d of %d members given (%s not given), whose generation cannot be compared with its own", given, declared, strings.Join(s.Missing, ", "))
	}
	s.Fresh = nil
}

// generationText names m's generation by its format's field ("events 15"),
// or "" when the format has none.
func generationText(s *Set, m *Member) string {
	if m.Generation == nil {
		return ""
	}
	field := "generation"
	switch {
	case strings.HasPrefix(s.Format, "md-"):
		field = "events"
	case s.Format == "imsm":
		field = "generation_num"
	case s.Format == "ddf":
		field = "seq"
	case s.Format == "ldm":
		field = "committed sequence"
	}
	return fmt.Sprintf("%s %d", field, *m.Generation)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
