package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/scan"
	"github.com/mirrorchk/mirrorchk/set"
)

// Options are what the user said for every image (the command-line flags;
// a manifest says the same per image).
type Options struct {
	Hives     []string
	Serials   []scan.Serial
	FTMembers []scan.FTMember
	Prefer    string // path of the authoritative image, or ""
	// Labels renames images in the report (the embedded example).
	Labels map[string]string
	// Shards is the number of shards the sets are spread over (≥ 1).
	Shards int
	// Settings describes the options that change the results (sector
	// size, hashes, range limit); it is part of the plan's hash, so that
	// shard outputs of differently configured runs are not merged.
	Settings string
	// Withhold, when set, gives by index into the opened images (nil
	// where an input could not be opened) the ranges each acquisition
	// could not read (ddrescue mapfiles, error sections). They are
	// withheld (image.Image.Withhold) while the set metadata and the
	// identities are read: metadata in a bad block is not evidence.
	Withhold func(images []*image.Image) (map[int][]image.Range, error)
}

// PlannedSet is one set of the plan: the images that will be compared,
// and why they form a set.
type PlannedSet struct {
	Index int    // position in the plan
	Key   string // stable name of the set: its order in JSONL and its shard
	ID    string // the report's set id
	Case  string
	Why   string // why these images form one set
	Shard int
	Set   *set.Set // nil when the input could not be read
	// Inputs are the indices into Plan.Inputs of the set's images, in the
	// order of Set.Members.
	Inputs []int
	// Prefer is the index into Plan.Images of the member the user names
	// authoritative, or -1.
	Prefer   int
	Unpaired bool
	// NoSharedIdentity is set for images compared only because the user
	// listed them: repair then needs --prefer.
	NoSharedIdentity bool
	// Problems the batch adds to the set (unpaired, no-shared-identity,
	// input-unreadable).
	Problems []set.Problem
	// Err is why the input could not be read; the set then has no Set.
	Err error
}

// Plan is the grouping of every input into sets, before any data is read.
type Plan struct {
	Inputs     []Input
	Images     []*image.Image // by input index; nil for an input that could not be opened
	Identities []Identity     // by input index, for images without set metadata
	Sets       []*PlannedSet  // in plan order
	Problems   []set.Problem  // not tied to one set
	Hives      []set.HiveInput
	Skipped    map[string]int
	Shards     int
	Hash       string // sha256 of the plan: the sets, their images and the settings
	// Walked is set when a directory or manifest was given (Inputs.Walked).
	Walked bool
}

// Close closes every image the plan opened.
func (p *Plan) Close() {
	if p == nil {
		return
	}
	for i, im := range p.Images {
		if im != nil {
			im.Close()
			p.Images[i] = nil
		}
	}
}

// ShardOf is the shard of the set with the given key: a stable hash of the
// key alone, so that adding a set does not move the others.
func ShardOf(key string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(shards))
}

// MakePlan opens every input read-only, reads the set metadata of each and
// groups them: sets from metadata (never across cases), images without
// metadata by the manifest's set or by the evidence that they are copies
// of one disk (same size and same identity), every other image on its own
// (unpaired). An input that cannot be read becomes a set of its own with
// its error. The error is for a usage mistake (scan.UsageError) or an
// unreadable --hive.
func MakePlan(in *Inputs, opt Options) (p *Plan, err error) {
	p = &Plan{Inputs: in.Images, Images: make([]*image.Image, len(in.Images)), Identities: make([]Identity, len(in.Images)),
		Skipped: in.Skipped, Shards: max(opt.Shards, 1), Walked: in.Walked}
	defer func() {
		if err != nil {
			p.Close()
			p = nil
		}
	}()
	failed := map[int]error{}
	for i, x := range in.Images {
		if x.Err != nil {
			failed[i] = x.Err
			continue
		}
		im, err := image.Open(x.Path)
		if err != nil {
			failed[i] = err
			continue
		}
		if l, ok := opt.Labels[x.Path]; ok {
			im.Relabel(l)
			in.Images[i].Path = l // the name in keys and in the plan's hash
		}
		p.Images[i] = im
	}
	// The same file twice: a usage error when the user named it twice,
	// else (a directory and a manifest reaching one file) taken once.
	for i, a := range p.Images {
		for j := i + 1; j < len(p.Images) && a != nil; j++ {
			b := p.Images[j]
			if b == nil || !a.SameFile(b) {
				continue
			}
			if in.Images[i].Explicit && in.Images[j].Explicit {
				if na, nb := len(a.Segments()), len(b.Segments()); na != nb {
					whole, part := a, b
					if na < nb {
						whole, part = b, a
					}
					return p, &scan.UsageError{Err: fmt.Errorf("%s is read as part of %s (%s): give only %s", part.Path(), whole.Path(), whole.Info().Format, whole.Path())}
				}
				return p, &scan.UsageError{Err: fmt.Errorf("%s and %s are the same image given twice", a.Path(), b.Path())}
			}
			// Keep the image that reads more files: a container's extent,
			// segment or backing file found by the walk is part of it,
			// never an image of its own (a VMDK's flat extent read as raw
			// would pair with its own descriptor as a fake mirror).
			keep, drop := i, j
			reason := "duplicate"
			if na, nb := len(a.Segments()), len(b.Segments()); na != nb {
				reason = "part of a container"
				if na < nb {
					keep, drop = j, i
				}
			}
			// What the manifest says of the file is kept, whichever
			// way it was reached first.
			x, y := &in.Images[keep], in.Images[drop]
			if x.Case == "" && x.Set == "" && x.Hive == "" && x.Member == "" && x.Serial == "" && !x.Prefer {
				x.Case, x.Set, x.Hive, x.Member, x.Serial, x.Prefer = y.Case, y.Set, y.Hive, y.Member, y.Serial, y.Prefer
			}
			p.Images[drop].Close()
			p.Images[drop] = nil
			p.Skipped[reason]++
			in.Images[drop].Err = errDuplicate
			if drop == i {
				break // a is gone
			}
		}
	}
	if opt.Withhold != nil {
		w, err := opt.Withhold(p.Images)
		if err != nil {
			return p, err
		}
		for i, rs := range w {
			if im := p.Images[i]; im != nil && len(rs) > 0 {
				im.Withhold(rs)
				defer im.Withhold(nil)
			}
		}
	}
	find := func(what, path string) (int, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return -1, &scan.UsageError{Err: fmt.Errorf("%s: %w", what, err)}
		}
		for i, im := range p.Images {
			if im != nil && im.Contains(fi) {
				return i, nil
			}
		}
		return -1, &scan.UsageError{Err: fmt.Errorf("%s %s is not one of the images given", what, path)}
	}
	prefer := map[int]bool{}
	if opt.Prefer != "" {
		i, err := find("--prefer", opt.Prefer)
		if err != nil {
			return p, err
		}
		prefer[i] = true
	}
	serials := map[int]string{}
	for _, s := range opt.Serials {
		i, err := find("--serial", s.Path)
		if err != nil {
			return p, err
		}
		serials[i] = s.Serial
	}
	bindings := map[int]set.FTBinding{}
	for _, m := range opt.FTMembers {
		i, err := find("--member", m.Path)
		if err != nil {
			return p, err
		}
		if _, dup := bindings[i]; dup {
			return p, &scan.UsageError{Err: fmt.Errorf("--member names %s twice: an image is one member", m.Path)}
		}
		bindings[i] = set.FTBinding{Signature: m.Signature, Offset: m.Offset}
	}
	globalHives, err := scan.ReadHives(opt.Hives, p.Images)
	if err != nil {
		return p, err
	}
	if len(bindings) > 0 && len(globalHives) == 0 {
		return p, &scan.UsageError{Err: fmt.Errorf("--member needs --hive: the binding refers to the hive's FT members")}
	}
	p.Hives = append(p.Hives, globalHives...)
	manifestHives := map[string]*set.HiveInput{}
	hiveErr := map[string]error{}
	for i, x := range in.Images {
		if x.Serial != "" {
			serials[i] = x.Serial
		}
		if x.Prefer {
			prefer[i] = true
		}
		if x.Member != "" {
			b, err := parseBinding(x.Member)
			if err != nil {
				failed[i] = err
			} else {
				bindings[i] = b
			}
		}
		if x.Hive == "" || manifestHives[x.Hive] != nil || hiveErr[x.Hive] != nil {
			continue
		}
		hs, err := scan.ReadHives([]string{x.Hive}, p.Images)
		if err != nil {
			hiveErr[x.Hive] = err
			continue
		}
		manifestHives[x.Hive] = &hs[0]
		p.Hives = append(p.Hives, hs[0])
	}
	for i, x := range in.Images {
		if e := hiveErr[x.Hive]; x.Hive != "" && e != nil {
			failed[i] = e
		}
	}

	// Cases in the order they first appear.
	var cases []string
	byCase := map[string][]int{}
	for i, x := range in.Images {
		if x.Err == errDuplicate {
			continue
		}
		if _, ok := byCase[x.Case]; !ok {
			cases = append(cases, x.Case)
		}
		if failed[i] == nil && p.Images[i] != nil {
			byCase[x.Case] = append(byCase[x.Case], i)
		} else {
			byCase[x.Case] = append(byCase[x.Case], -1-i)
		}
	}
	anyMetadata := false
	type caseGroups struct {
		meta   []*PlannedSet
		bare   []int // input indices
		failed []int
	}
	groups := map[string]*caseGroups{}
	for _, c := range cases {
		cg := &caseGroups{}
		groups[c] = cg
		var idx []int
		for _, i := range byCase[c] {
			if i < 0 {
				cg.failed = append(cg.failed, -1-i)
			} else {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		ims := make([]*image.Image, len(idx))
		sopt := set.Options{Serials: map[int]string{}, FTMembers: map[int]set.FTBinding{}}
		sopt.Hives = append(sopt.Hives, globalHives...)
		seenHive := map[string]bool{}
		for k, i := range idx {
			ims[k] = p.Images[i]
			if s, ok := serials[i]; ok {
				sopt.Serials[k] = s
			}
			if b, ok := bindings[i]; ok {
				sopt.FTMembers[k] = b
			}
			if h := in.Images[i].Hive; h != "" && !seenHive[h] && manifestHives[h] != nil {
				seenHive[h] = true
				sopt.Hives = append(sopt.Hives, *manifestHives[h])
			}
		}
		g, err := set.GroupAll(ims, sopt)
		if err != nil {
			for _, i := range idx {
				failed[i] = err
				cg.failed = append(cg.failed, i)
			}
			continue
		}
		p.Problems = append(p.Problems, g.Problems...)
		for _, s := range g.Sets {
			ps := &PlannedSet{Case: c, Set: s, Prefer: -1, Why: metadataWhy(s)}
			for _, m := range s.Members {
				i := idx[m.Input]
				ps.Inputs = append(ps.Inputs, i)
				if prefer[i] {
					ps.Prefer = i
				}
			}
			ps.Key = caseKey(c, kindOf(s.Format)+":"+s.ID)
			cg.meta = append(cg.meta, ps)
			anyMetadata = true
		}
		for _, k := range g.Bare {
			i := idx[k]
			if e := g.Failed[k]; e != nil {
				failed[i] = e
				cg.failed = append(cg.failed, i)
				continue
			}
			cg.bare = append(cg.bare, i)
		}
		if !in.Walked && (len(g.Sets) > 0 || len(g.FTUsed) > 0) {
			for _, i := range cg.bare {
				p.Problems = append(p.Problems, set.Problem{Code: "not-in-set", Severity: set.Warning, Member: p.Images[i].Path(),
					Message: fmt.Sprintf("%s has no usable set metadata and was not compared with the members of the sets found from metadata; it is grouped only with copies of the same disk, else reported on its own", p.Images[i].Path())})
			}
		}
	}

	// Images without metadata: by the manifest's set, else by identity.
	adhoc := 0
	nextID := func() string { adhoc++; return fmt.Sprintf("adhoc-%d", adhoc) }
	for _, c := range cases {
		cg := groups[c]
		p.Sets = append(p.Sets, cg.meta...)
		type bucket struct {
			key, why string
			idx      []int
		}
		var buckets []*bucket
		byKey := map[string]*bucket{}
		var singles []int
		for _, i := range cg.bare {
			im := p.Images[i]
			id, err := ReadIdentity(im, im.Size())
			var re *image.ReadError
			if errors.As(err, &re) {
				// A failing disk's first sectors: no identity to pair it
				// by, but the image is still read (unpaired).
				p.Problems = append(p.Problems, set.Problem{Code: "identity-unreadable", Severity: set.Warning, Member: im.Path(),
					Message: fmt.Sprintf("%s: its identity (partition table, boot sectors) could not be read (%v): it is paired with no image by identity", im.Path(), err)})
				id, err = Identity{}, nil
			}
			if err != nil {
				failed[i] = err
				cg.failed = append(cg.failed, i)
				continue
			}
			p.Identities[i] = id
			var k, why string
			switch {
			case in.Images[i].Set != "":
				k, why = "none:set-"+in.Images[i].Set, fmt.Sprintf("the manifest names them set %q", in.Images[i].Set)
			case id.Strong:
				sum := sha256.Sum256([]byte(fmt.Sprintf("%d\n%s", im.Size(), id)))
				k = "none:id-" + hex.EncodeToString(sum[:8])
				why = fmt.Sprintf("no set metadata; the same size (%d bytes) and the same identity: %s", im.Size(), id)
			default:
				singles = append(singles, i)
				continue
			}
			b := byKey[k]
			if b == nil {
				b = &bucket{key: k, why: why}
				byKey[k] = b
				buckets = append(buckets, b)
			}
			b.idx = append(b.idx, i)
		}
		// A bucket of one is an unpaired image too.
		var paired []*bucket
		for _, b := range buckets {
			if len(b.idx) == 1 && !strings.HasPrefix(b.key, "none:set-") {
				singles = append(singles, b.idx[0])
				continue
			}
			paired = append(paired, b)
		}
		sort.Ints(singles)
		// Listed by the user, without a directory or a manifest, and
		// nothing else to go on: compared because the user asked, with
		// a warning.
		if !in.Walked && !anyMetadata && len(cases) == 1 && len(paired) == 0 && len(singles) >= 2 && len(cg.failed) == 0 {
			ims := make([]*image.Image, len(singles))
			for k, i := range singles {
				ims[k] = p.Images[i]
			}
			s := set.AdhocSet(ims)
			ps := &PlannedSet{Case: c, Set: s, Inputs: singles, Prefer: -1, NoSharedIdentity: true,
				Why: "given together on the command line; they share no identity (no common filesystem volume ID or serial, disk signature or GPT GUID, or their sizes differ)"}
			var paths []string
			for _, i := range singles {
				paths = append(paths, p.Images[i].Path())
				if prefer[i] {
					ps.Prefer = i
				}
			}
			ps.Key = caseKey(c, "none:listed-"+hashStrings(paths))
			ps.Problems = append(ps.Problems, set.Problem{Code: "no-shared-identity", Severity: set.Warning,
				Message: fmt.Sprintf("%s share no identity that shows they are copies of one disk; they are compared only because they were given together, and repair needs --prefer", strings.Join(paths, ", "))})
			s.ID = nextID()
			p.Sets = append(p.Sets, ps)
			singles = nil
		}
		for _, b := range paired {
			ims := make([]*image.Image, len(b.idx))
			ps := &PlannedSet{Case: c, Inputs: b.idx, Prefer: -1, Why: b.why, Key: caseKey(c, b.key)}
			for k, i := range b.idx {
				ims[k] = p.Images[i]
				if prefer[i] {
					ps.Prefer = i
				}
			}
			ps.Set = set.AdhocSet(ims)
			ps.Set.ID = nextID()
			p.Sets = append(p.Sets, ps)
		}
		for _, i := range singles {
			im := p.Images[i]
			s := set.AdhocSet([]*image.Image{im})
			s.ID = nextID()
			why := "no set metadata and no other image of the same size with the same identity"
			if id := p.Identities[i].String(); id != "" {
				why += " (" + id + ")"
			} else {
				why += " (no partition table or filesystem identity found)"
			}
			ps := &PlannedSet{Case: c, Set: s, Inputs: []int{i}, Prefer: -1, Unpaired: true, Why: why, Key: caseKey(c, "unpaired:"+in.Images[i].Path)}
			ps.Problems = append(ps.Problems, set.Problem{Code: "unpaired", Severity: set.Warning, Member: im.Path(),
				Message: fmt.Sprintf("%s is the only image of its disk: it is hashed and its filesystem checked, but it is compared with nothing and is never a source or target of repair", im.Path())})
			p.Sets = append(p.Sets, ps)
		}
	}
	var failedIdx []int
	for i := range failed {
		if in.Images[i].Err != errDuplicate {
			failedIdx = append(failedIdx, i)
		}
	}
	sort.Ints(failedIdx)
	for n, i := range failedIdx {
		if p.Images[i] != nil {
			p.Images[i].Close()
			p.Images[i] = nil
		}
		x := in.Images[i]
		ps := &PlannedSet{Case: x.Case, ID: fmt.Sprintf("input-%d", n+1), Inputs: []int{i}, Prefer: -1, Err: failed[i],
			Key: caseKey(x.Case, "unreadable:"+x.Path), Why: "the input could not be read"}
		ps.Problems = append(ps.Problems, set.Problem{Code: "input-unreadable", Severity: set.Error, Member: x.Path,
			Message: fmt.Sprintf("%s cannot be read: %v; every other set is still scanned", x.Path, failed[i])})
		p.Sets = append(p.Sets, ps)
	}
	// Keys are unique: a second set with one key gets "#2".
	seen := map[string]int{}
	for n, ps := range p.Sets {
		ps.Index = n
		if ps.Set != nil && ps.ID == "" {
			ps.ID = ps.Set.ID
		}
		if c := seen[ps.Key]; c > 0 {
			seen[ps.Key]++
			ps.Key += "#" + strconv.Itoa(c+1)
		} else {
			seen[ps.Key] = 1
		}
		ps.Shard = ShardOf(ps.Key, p.Shards)
	}
	for _, c := range in.Compressed {
		ext := strings.ToLower(filepath.Ext(c))
		p.Problems = append(p.Problems, set.Problem{Code: "compressed-skipped", Severity: set.Warning, Member: c,
			Message: fmt.Sprintf("%s was not read: a compressed file or archive (%s); if it holds a member image, extract it (%s) and give the image", c, ext, compressed[ext])})
	}
	if len(p.Sets) == 0 {
		p.Problems = append(p.Problems, set.Problem{Code: "no-images", Severity: set.Warning,
			Message: fmt.Sprintf("no images were found among the inputs (%d files skipped as hidden, not images, later segments, hives or duplicates)", skippedTotal(p.Skipped))})
	}
	p.Hash = p.hash(opt.Settings)
	return p, nil
}

var errDuplicate = fmt.Errorf("the same file is reached twice")

func parseBinding(spec string) (set.FTBinding, error) {
	sigs, offs, ok := strings.Cut(spec, ":")
	if !ok {
		return set.FTBinding{}, fmt.Errorf("manifest member %q: want SIGNATURE:OFFSET (signature in hex, offset in bytes)", spec)
	}
	sig, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(sigs), "0x"), 16, 32)
	if err != nil {
		return set.FTBinding{}, fmt.Errorf("manifest member %q: signature %q is not a 32-bit hex number", spec, sigs)
	}
	off, err := strconv.ParseInt(offs, 0, 64)
	if err != nil || off < 0 {
		return set.FTBinding{}, fmt.Errorf("manifest member %q: offset %q is not a byte offset", spec, offs)
	}
	return set.FTBinding{Signature: uint32(sig), Offset: off}, nil
}

func caseKey(c, k string) string {
	if c == "" {
		return k
	}
	return c + "/" + k
}

// kindOf is the metadata family of a set format: "md-1.2" → "md".
func kindOf(format string) string {
	if strings.HasPrefix(format, "md-") {
		return "md"
	}
	return format
}

func metadataWhy(s *set.Set) string {
	switch kindOf(s.Format) {
	case "md":
		return "md superblocks with array UUID " + s.ID
	case "imsm":
		return "IMSM metadata of one family, volume " + s.ID
	case "ddf":
		return "DDF headers of one container, virtual disk GUID " + s.ID
	case "ldm":
		return "LDM database of one disk group, volume " + s.ID
	case "ftdisk":
		return "the SYSTEM hive's DISK\\Information FT set " + s.ID
	}
	return s.Format + " metadata " + s.ID
}

func hashStrings(ss []string) string {
	h := sha256.New()
	for _, s := range ss {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// hash is the plan's identity: every set's key, images and sizes, and the
// settings. Shard outputs carry it; merge refuses to mix plans.
func (p *Plan) hash(settings string) string {
	h := sha256.New()
	fmt.Fprintf(h, "mirrorchk.plan/1\n%s\n", settings)
	for _, ps := range p.Sets {
		fmt.Fprintf(h, "set %q\n", ps.Key)
		for _, i := range ps.Inputs {
			size := int64(-1)
			if im := p.Images[i]; im != nil {
				size = im.Size()
			}
			fmt.Fprintf(h, "  %q %d\n", p.Inputs[i].Path, size)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func skippedTotal(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// DirName is a directory name for the set's outputs (repair of a batch
// writes each set into its own directory, so that members of different
// sets with one file name do not collide): the key with every character
// other than letters, digits, '.', '-' and '_' written as '_'.
func (ps *PlannedSet) DirName() string {
	b := []byte(ps.Key)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 200 {
		return string(b[:180]) + "_" + hashStrings([]string{ps.Key})
	}
	return string(b)
}
