package set

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/md"
)

// mdFound is one image with an md superblock, before grouping.
type mdFound struct {
	input  int
	img    *image.Image
	sb     *md.Superblock
	bitmap *md.Bitmap
}

// mdRule is cited in the reasons of every md decision.
const mdRule = "md rule (kernel md.c, mdadm Assemble.c): among members with a valid superblock and a data slot, the highest events count is current; a member more than 1 event behind is non-fresh (stale)"

// groupMD groups md members by superblock version and array UUID, in the
// order the arrays first appear on the command line.
func groupMD(found []*mdFound) []*Set {
	var keys []string
	groups := map[string][]*mdFound{}
	for _, f := range found {
		k := f.sb.Version.String() + "/" + f.sb.UUIDString()
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	sets := make([]*Set, 0, len(keys))
	for _, k := range keys {
		sets = append(sets, assessMD(groups[k]))
	}
	return sets
}

// assessMD turns the superblocks of one array into members and claims.
func assessMD(fs []*mdFound) *Set {
	s := &Set{ID: fs[0].sb.UUIDString(), Format: "md-" + fs[0].sb.Version.String(), ResyncFrom: -1}
	for _, f := range fs {
		s.Members = append(s.Members, mdMember(s, f))
	}

	// Candidates for current: trusted members holding a data slot.
	var top uint64
	var cands []*Member
	for _, m := range s.Members {
		if m.State == StateActive && m.Trusted {
			cands = append(cands, m)
			top = max(top, m.MD.Events)
		}
	}
	s.Reasons = append(s.Reasons, mdRule)
	var tops []*Member
	for _, m := range cands {
		if m.MD.Events == top {
			tops = append(tops, m)
		}
	}
	s.Fresh = mdMutualViews(s, tops)
	sort.SliceStable(s.Fresh, func(i, j int) bool { return s.Fresh[i].MD.Role < s.Fresh[j].MD.Role })

	// The reference superblock describes the array: the freshest, else any
	// trusted one, else the first. An untrusted superblock never decides
	// the level, size or slot count.
	ref := s.Members[0]
	for _, m := range s.Members {
		if m.Trusted {
			ref = m
			break
		}
	}
	if len(s.Fresh) > 0 {
		ref = s.Fresh[0]
		var names []string
		for _, m := range s.Fresh {
			names = append(names, m.Path())
			m.addEvidence("events %d is the highest among the members given with a data slot and a valid superblock", top)
		}
		s.Reasons = append(s.Reasons, fmt.Sprintf("highest events among the members given: %d, held by %s", top, strings.Join(names, ", ")))
	} else {
		s.Reasons = append(s.Reasons, "no member has a trusted superblock with a data slot, so the metadata names no current member")
	}
	s.Name, s.Level, s.RaidDisks, s.DataSize = ref.MD.Name, mdLevel(ref.MD.Level), ref.MD.RaidDisks, ref.MD.Size
	if s.Level != "raid1" {
		s.problem("not-a-mirror", Warning, nil, nil, "array %s is %s, not a mirror: its members are not compared", s.ID, s.Level)
	}

	var fresh *Member
	if len(s.Fresh) > 0 {
		fresh = s.Fresh[0]
	}
	for _, m := range cands {
		if m.MD.Events == top {
			continue
		}
		lag := top - m.MD.Events
		if lag == 1 {
			m.addEvidence("events %d is one below the freshest %d: md accepts a lag of 1 (a crash between superblock writes)", m.MD.Events, top)
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s: events %d, within md's tolerance of 1: current", m.Path(), m.MD.Events))
			continue
		}
		m.State = StateStale
		m.addEvidence("events %d < %d of the freshest member %s: missed %d superblock updates", m.MD.Events, top, fresh.Path(), lag)
		s.Reasons = append(s.Reasons, fmt.Sprintf("%s: events %d < %d: stale", m.Path(), m.MD.Events, top))
		s.problem("stale-member", Error, m, ptr(m.MD.Offset),
			"%s is stale: events %d, the freshest member %s has %d", m.Path(), m.MD.Events, fresh.Path(), top)
	}

	if fresh != nil {
		mdFreshView(s, fresh)
	}
	mdCompareArray(s, ref)
	mdDuplicates(s)
	mdMissing(s)
	mdBitmap(s, fresh)
	if fresh != nil && !fresh.MD.Clean {
		s.ResyncFrom = mdResyncBytes(fresh.MD)
		s.problem("unclean-shutdown", Info, fresh, ptr(fresh.MD.Offset),
			"the array was not clean at the last superblock write (resync from byte %d of the data area): members may legitimately differ above it", s.ResyncFrom)
	}
	s.DataSize = shortest(s)
	return s
}

// mdMember reads one member's claims from its own superblock.
func mdMember(s *Set, f *mdFound) *Member {
	sb := f.sb
	ev := sb.Events
	m := &Member{Input: f.input, Image: f.img, MD: sb, Bitmap: f.bitmap, Generation: &ev,
		DataOffset: sb.DataOffset, DataSize: sb.Size, Trusted: sb.ChecksumOK()}
	m.addEvidence("md %s superblock at byte %#x: array %s, events %d, dev_number %d, role %s",
		sb.Version, sb.Offset, sb.UUIDString(), sb.Events, sb.DevNumber, roleName(sb.Role))
	m.addEvidence("data_offset %d sectors (byte %d), used size %d bytes", sb.DataOffset/512, sb.DataOffset, sb.Size)
	// The two fields mdadm users look for, written as mdadm --examine
	// shows them (the time in UTC rather than the local zone).
	if !sb.UTime.IsZero() && sb.UTime.Unix() != 0 {
		m.addEvidence("Update Time : %s UTC", sb.UTime.UTC().Format("Mon Jan _2 15:04:05 2006"))
	}
	if sb.DeviceUUID != ([16]byte{}) {
		u := sb.DeviceUUID
		m.addEvidence("Device UUID : %x:%x:%x:%x", u[0:4], u[4:8], u[8:12], u[12:16])
	}
	switch {
	case sb.IsSlot():
		m.Role, m.State = strconv.Itoa(int(sb.Role)), StateActive
	case sb.Role == md.RoleFaulty:
		m.Role, m.State = "faulty", StateFaulty
	case sb.Role == md.RoleSpare:
		m.Role, m.State = "spare", StateSpare
	default:
		m.Role, m.State = roleName(sb.Role), StateUnknown
	}
	if !m.Trusted {
		m.State = StateUnknown
		m.addEvidence("sb_csum %#08x but computed %#08x: this superblock is not trusted", sb.Checksum, sb.ComputedChecksum)
		s.problem("bad-checksum", Error, m, ptr(sb.Offset),
			"%s: md superblock at byte %#x: sb_csum %#08x, computed %#08x; the member is not trusted as evidence",
			m.Path(), sb.Offset, sb.Checksum, sb.ComputedChecksum)
		return m
	}
	switch m.State {
	case StateFaulty:
		s.problem("faulty-member", Warning, m, ptr(sb.Offset),
			"%s records itself as faulty (%s) and is not authoritative", m.Path(), mdRoleField(sb, sb))
	case StateSpare:
		s.problem("spare-member", Info, m, ptr(sb.Offset),
			"%s is a spare: it holds no data slot and is not authoritative; its data is compared for information only", m.Path())
	case StateActive:
		if sb.Recovering {
			m.State = StateRebuilding
			m.addEvidence("feature_map bit 2 (recovery offset) set, recovery_offset %d bytes: only the data below it was rebuilt", sb.RecoveryOffset)
			s.problem("rebuilding-member", Warning, m, ptr(sb.Offset),
				"%s was being rebuilt (recovery_offset %d bytes) and is not authoritative", m.Path(), sb.RecoveryOffset)
		}
	}
	return m
}

// mdMutualViews keeps, of the members sharing the highest events, those no
// other of them records as out of the array. Two that record each other as
// out are a split brain.
func mdMutualViews(s *Set, tops []*Member) []*Member {
	out := map[*Member]uint16{}
	for _, a := range tops {
		for _, b := range tops {
			if a == b {
				continue
			}
			r, ok := mdRoleOf(a.MD, b.MD)
			if !ok || isSlot(r) {
				continue
			}
			back, bok := mdRoleOf(b.MD, a.MD)
			if bok && !isSlot(back) {
				s.Conflict = fmt.Sprintf("%s records %s as %s, and %s records %s as %s: each ran without the other",
					a.Path(), b.Path(), roleName(r), b.Path(), a.Path(), roleName(back))
				continue
			}
			out[b] = r
			b.addEvidence("%s, with the same events, records device %d as %s (%s)", a.Path(), b.MD.DevNumber, roleName(r), mdRoleField(a.MD, b.MD))
		}
	}
	if s.Conflict != "" {
		s.problem("split-brain", Error, nil, nil, "%s", s.Conflict)
		return tops
	}
	var fresh []*Member
	for _, m := range tops {
		r, dropped := out[m]
		if !dropped {
			fresh = append(fresh, m)
			continue
		}
		m.State = mdOutState(r)
		code, sev := mdOutProblem(r)
		s.problem(code, sev, m, ptr(m.MD.Offset),
			"%s has the highest events but a member with the same events records it as %s", m.Path(), roleName(r))
	}
	return fresh
}

// mdOutState is the state of a member that the array records as role r
// outside a slot: 0xfffe is faulty; 0xffff (removed) left the array and is
// stale.
func mdOutState(r uint16) string {
	if r == md.RoleFaulty {
		return StateFaulty
	}
	return StateStale
}

// mdOutProblem is the problem code and severity for a member out of the
// array by role r.
func mdOutProblem(r uint16) (string, string) {
	if r == md.RoleFaulty {
		return "faulty-member", Warning
	}
	return "stale-member", Error
}

// mdFreshView holds every other member against the freshest superblock's
// record of the array, and each member's own record against the freshest.
func mdFreshView(s *Set, fresh *Member) {
	for _, m := range s.Members {
		if contains(s.Fresh, m) || !m.Trusted {
			continue
		}
		r, rOK := mdRoleOf(fresh.MD, m.MD)
		if rOK && !isSlot(r) && (m.State == StateActive || m.State == StateStale) {
			m.addEvidence("the freshest member %s records device %d as %s (%s)", fresh.Path(), m.MD.DevNumber, roleName(r), mdRoleField(fresh.MD, m.MD))
			if m.State == StateActive {
				// Current events but out of the array in the freshest view:
				// recent kernels take the role from the freshest superblock.
				m.State = mdOutState(r)
				code, sev := mdOutProblem(r)
				s.problem(code, sev, m, ptr(m.MD.Offset),
					"%s has current events but the freshest member %s records it as %s", m.Path(), fresh.Path(), roleName(r))
			}
		}
		// The member's own view of the freshest member.
		back, backOK := mdRoleOf(m.MD, fresh.MD)
		if backOK && !isSlot(back) && rOK && !isSlot(r) && m.IsInArrayClaim() {
			s.Conflict = fmt.Sprintf("%s records %s as %s, and %s records %s as %s: each ran without the other",
				fresh.Path(), m.Path(), roleName(r), m.Path(), fresh.Path(), roleName(back))
			s.problem("split-brain", Error, m, nil, "%s", s.Conflict)
		}
		if m.State == StateStale {
			if own, fv := mdArrayState(m.MD), mdArrayState(fresh.MD); own != fv {
				m.addEvidence("its own superblock still shows array state %s where the freshest shows %s: a stale member's own view is not evidence", own, fv)
				s.problem("metadata-disagrees", Warning, m, ptr(m.MD.Offset),
					"%s's own superblock shows array state %s; the freshest member %s shows %s", m.Path(), own, fresh.Path(), fv)
			}
		}
	}
}

// IsInArrayClaim reports whether the member's own superblock gives it a
// data slot (a spare or faulty member recording others is no split brain).
func (m *Member) IsInArrayClaim() bool { return m.MD != nil && m.MD.IsSlot() }

// mdCompareArray compares the fields every member of one array must share
// with the reference superblock: the metadata areas are compared here,
// field by field, never as data divergence.
func mdCompareArray(s *Set, ref *Member) {
	for _, m := range s.Members {
		if m == ref || !m.Trusted {
			continue
		}
		a, b := ref.MD, m.MD
		var diffs []string
		if a.Level != b.Level {
			diffs = append(diffs, fmt.Sprintf("level %d vs %d", b.Level, a.Level))
		}
		if a.RaidDisks != b.RaidDisks {
			diffs = append(diffs, fmt.Sprintf("raid_disks %d vs %d", b.RaidDisks, a.RaidDisks))
		}
		if a.Size != b.Size {
			diffs = append(diffs, fmt.Sprintf("size %d vs %d bytes", b.Size, a.Size))
		}
		if !a.CTime.Equal(b.CTime) {
			diffs = append(diffs, fmt.Sprintf("ctime %s vs %s", b.CTime.Format("2006-01-02T15:04:05Z"), a.CTime.Format("2006-01-02T15:04:05Z")))
		}
		if a.Name != b.Name {
			diffs = append(diffs, fmt.Sprintf("name %q vs %q", b.Name, a.Name))
		}
		if len(diffs) > 0 {
			m.addEvidence("array fields differ from %s's: %s", ref.Path(), strings.Join(diffs, ", "))
			s.problem("metadata-disagrees", Warning, m, ptr(m.MD.Offset),
				"%s describes the array differently from %s (%s); the data area compared is %s's", m.Path(), ref.Path(), strings.Join(diffs, ", "), ref.Path())
		}
	}
}

// mdDuplicates reports two inputs that are the same md device (copies of
// one disk): their superblocks name the same device.
func mdDuplicates(s *Set) {
	seen := map[string]*Member{}
	for _, m := range s.Members {
		if !m.Trusted {
			continue
		}
		key := fmt.Sprintf("dev %d", m.MD.ThisDisk.Number)
		if m.MD.Version != md.V090 {
			key = fmt.Sprintf("device uuid %x", m.MD.DeviceUUID)
		}
		if o, ok := seen[key]; ok {
			s.problem("duplicate-member", Error, m, ptr(m.MD.Offset),
				"%s and %s are the same md device (%s): two copies of one disk, not two members", o.Path(), m.Path(), key)
			continue
		}
		seen[key] = m
	}
}

// mdMissing reports slots the array declares that no given member fills.
func mdMissing(s *Set) {
	have := map[uint16]bool{}
	for _, m := range s.Members {
		if m.MD.IsSlot() {
			have[m.MD.Role] = true
		}
	}
	var missing []string
	for slot := 0; slot < s.RaidDisks && slot < 0xff00; slot++ {
		if !have[uint16(slot)] {
			missing = append(missing, strconv.Itoa(slot))
			s.Missing = append(s.Missing, "slot "+strconv.Itoa(slot))
		}
	}
	if len(missing) > 0 {
		s.problem("member-missing", Warning, nil, nil, "the array declares %d slots (raid_disks); no member was given for slot %s",
			s.RaidDisks, strings.Join(missing, ", "))
	}
}

// mdBitmap records the freshest member's bitmap as the evidence of what a
// stale member missed; a stale member's own bitmap is not evidence.
func mdBitmap(s *Set, fresh *Member) {
	for _, m := range s.Members {
		if m.Bitmap == nil {
			continue
		}
		b := m.Bitmap
		desc := fmt.Sprintf("write-intent bitmap at byte %#x: events %d, events_cleared %d, %d of %d chunks of %d bytes dirty",
			b.Offset, b.Events, b.EventsCleared, b.DirtyCount(), b.NBits, b.ChunkSize)
		if m == fresh {
			m.addEvidence("%s: used as evidence of the chunks written while a member was missing", desc)
		} else if m.State == StateStale {
			m.addEvidence("%s: not evidence, the member is stale", desc)
		} else {
			m.addEvidence("%s", desc)
		}
	}
	if fresh == nil || fresh.Bitmap == nil {
		return
	}
	s.Bitmap, s.BitmapMember = fresh.Bitmap, fresh
	for _, m := range s.Members {
		if m.State == StateStale && m.MD.Events < fresh.Bitmap.EventsCleared {
			s.problem("bitmap-full-resync", Info, m, nil,
				"%s has events %d, older than the bitmap's events_cleared %d: the bitmap cannot tell what it missed, a full copy is needed",
				m.Path(), m.MD.Events, fresh.Bitmap.EventsCleared)
		}
	}
}

// mdRoleOf returns the role that view's superblock records for the device
// holding sb.
func mdRoleOf(view, sb *md.Superblock) (uint16, bool) {
	if view.Version == md.V090 {
		n := int(sb.ThisDisk.Number)
		if n < 0 || n >= len(view.Disks) {
			return 0, false
		}
		d := view.Disks[n]
		if d.State&md.DiskFaulty != 0 || d.State&md.DiskRemoved != 0 {
			return md.RoleFaulty, true
		}
		if d.State&md.DiskActive != 0 && d.State&md.DiskSync != 0 {
			return uint16(d.RaidDisk), true
		}
		return md.RoleSpare, true
	}
	if sb.DevNumber < 0 || sb.DevNumber >= len(view.DevRoles) {
		return 0, false
	}
	return view.DevRoles[sb.DevNumber], true
}

func mdRoleField(view, sb *md.Superblock) string {
	if view.Version == md.V090 {
		n := sb.ThisDisk.Number
		if int(n) < len(view.Disks) {
			return fmt.Sprintf("disks[%d].state %#x", n, view.Disks[n].State)
		}
		return "disks[]"
	}
	r, _ := mdRoleOf(view, sb)
	return fmt.Sprintf("dev_roles[%d] = %#04x", sb.DevNumber, r)
}

// mdArrayState renders the array state as mdadm does: one letter a slot,
// 'A' when some device holds it, '.' when none does.
func mdArrayState(sb *md.Superblock) string {
	n := sb.RaidDisks
	if n <= 0 || n > 4096 {
		return ""
	}
	held := make([]bool, n)
	for _, r := range sb.DevRoles {
		if isSlot(r) && int(r) < n {
			held[r] = true
		}
	}
	var b bytes.Buffer
	for _, h := range held {
		if h {
			b.WriteByte('A')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func mdResyncBytes(sb *md.Superblock) int64 {
	if sb.ResyncOffset >= 1<<54 {
		return 0
	}
	return int64(sb.ResyncOffset) * 512
}

func isSlot(r uint16) bool { return r < 0xff00 }

func roleName(r uint16) string {
	switch {
	case isSlot(r):
		return fmt.Sprintf("slot %d", r)
	case r == md.RoleSpare:
		return "spare or removed"
	case r == md.RoleFaulty:
		return "faulty"
	case r == md.RoleJournal:
		return "journal"
	}
	return fmt.Sprintf("%#04x", r)
}

func mdLevel(l int32) string {
	switch l {
	case 1:
		return "raid1"
	case 0:
		return "raid0"
	case -1:
		return "linear"
	case -4:
		return "multipath"
	}
	return "raid" + strconv.Itoa(int(l))
}

// mdMissingView says what fresh's own superblock records of the slots that
// no given member fills: what the missing members were at its last write,
// never what they are now.
func mdMissingView(s *Set, fresh *Member) []string {
	sb := fresh.MD
	have := map[uint16]bool{}
	for _, m := range s.Members {
		if m.MD.IsSlot() {
			have[m.MD.Role] = true
		}
	}
	var out []string
	more := 0
	for slot := 0; slot < s.RaidDisks && slot < 0xff00; slot++ {
		if have[uint16(slot)] {
			continue
		}
		if len(out) == maxMissingViews {
			more++
			continue
		}
		holder := -1
		for i, r := range sb.DevRoles {
			if r == uint16(slot) {
				holder = i
				break
			}
		}
		if holder >= 0 {
			field := fmt.Sprintf("dev_roles[%d] = %d", holder, slot)
			if sb.Version == md.V090 && holder < len(sb.Disks) {
				field = fmt.Sprintf("disks[%d].state %#x: %s", holder, sb.Disks[holder].State, md090DiskState(sb.Disks[holder].State))
			}
			out = append(out, fmt.Sprintf("%s's own superblock records slot %d as in the array (%s; array state %s): at its last write (events %d) the missing member was in sync, and it may have gone on without %s, which would then be stale",
				fresh.Path(), slot, field, mdArrayState(sb), sb.Events, fresh.Path()))
			continue
		}
		field := fmt.Sprintf("no dev_roles entry holds slot %d", slot)
		if sb.Version == md.V090 {
			for i, d := range sb.Disks {
				if d.RaidDisk == uint32(slot) && d.State != 0 {
					field = fmt.Sprintf("disks[%d].state %#x: %s; failed_disks %d", i, d.State, md090DiskState(d.State), sb.FailedDisks)
					break
				}
			}
		}
		out = append(out, fmt.Sprintf("%s's own superblock records slot %d as out of the array (%s; array state %s): the array last ran degraded from %s at events %d; it would be current unless the missing member was started on its own since, which only that member's image can show",
			fresh.Path(), slot, field, mdArrayState(sb), fresh.Path(), sb.Events))
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("... and %d more missing slots, not listed", more))
	}
	return out
}

// maxMissingViews bounds the missing slots mdMissingView describes one by
// one (raid_disks comes from the image).
const maxMissingViews = 8

// md090DiskState names the bits of a 0.90 disk descriptor's state as
// mdadm --examine does.
func md090DiskState(st uint32) string {
	var w []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{md.DiskFaulty, "faulty"}, {md.DiskActive, "active"}, {md.DiskSync, "sync"}, {md.DiskRemoved, "removed"}} {
		if st&b.bit != 0 {
			w = append(w, b.name)
		}
	}
	if len(w) == 0 {
		return "spare"
	}
	return strings.Join(w, " ")
}
