package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
)

// ErrSchemaVersion is returned, wrapped, by ReadJSON and WriteJSON for a
// document whose "schema" is not Schema.
var ErrSchemaVersion = errors.New("report: unsupported schema version")

// WriteJSON writes r as one indented JSON document followed by a newline.
//
// The output is deterministic: map keys are sorted, every array field is
// written as [] rather than null when empty, and hash maps as {} when nil.
// An empty r.Schema is written as Schema; any other value than Schema is an
// error, since this package writes version 1 only. r is not modified.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	n := Normalized(r)
	if n.Schema != Schema {
		return fmt.Errorf("%w %q: this package writes %q", ErrSchemaVersion, n.Schema, Schema)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // paths such as "a&b.img" stay readable
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadJSON decodes one report document. It refuses a document whose "schema"
// is missing or is not Schema, and trailing data after the document. Fields
// it does not know are ignored, as version 1 may gain fields. The result is
// normalised as by Normalized, so empty arrays are never nil.
func ReadJSON(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	// Check the version before decoding the rest: a later version may have
	// retyped fields, and its type errors would hide the real reason.
	var probe struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if probe.Schema == nil {
		return nil, fmt.Errorf("%w: no \"schema\" field", ErrSchemaVersion)
	}
	if *probe.Schema != Schema {
		return nil, fmt.Errorf("%w %q: want %q", ErrSchemaVersion, *probe.Schema, Schema)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("report: data after the document")
	}
	return Normalized(&r), nil
}

// Normalized returns a deep copy of r in the form WriteJSON writes: every
// nil slice that is an array in the schema (including each agreement group)
// replaced by an empty one, nil hash maps replaced by empty maps, and an
// empty Schema set to Schema. Member.Segments, which is omitted when empty,
// stays nil when empty. The copy shares no memory with r; r is not modified.
// Normalized(nil) is nil.
func Normalized(r *Report) *Report {
	if r == nil {
		return nil
	}
	n := *r
	if n.Schema == "" {
		n.Schema = Schema
	}
	n.Command = cloneStrings(r.Command)
	n.Problems = cloneProblems(r.Problems)
	n.Hives = make([]Input, len(r.Hives))
	for i, h := range r.Hives {
		h.Hashes = cloneHashes(h.Hashes)
		n.Hives[i] = h
	}
	n.Sets = make([]Set, len(r.Sets))
	for i := range r.Sets {
		n.Sets[i] = normalizedSet(&r.Sets[i])
	}
	return &n
}

func normalizedSet(s *Set) Set {
	n := *s
	n.Members = make([]Member, len(s.Members))
	for i, m := range s.Members {
		m.Segments = cloneOptionalStrings(m.Segments)
		m.Hashes = cloneHashes(m.Hashes)
		m.Generation = clonePtr(m.Generation)
		m.Evidence = cloneStrings(m.Evidence)
		m.Filesystems = make([]Filesystem, len(s.Members[i].Filesystems))
		for j, f := range s.Members[i].Filesystems {
			f.Partition = clonePtr(f.Partition)
			f.Evidence = cloneStrings(f.Evidence)
			m.Filesystems[j] = f
		}
		m.Unreadable.List = make([]UnreadableRange, len(s.Members[i].Unreadable.List))
		for j, u := range s.Members[i].Unreadable.List {
			u.VolumeOffset = clonePtr(u.VolumeOffset)
			u.Owners = cloneOwners(u.Owners)
			m.Unreadable.List[j] = u
		}
		n.Members[i] = m
	}
	n.Authority.Member = clonePtr(s.Authority.Member)
	n.Authority.Reasons = cloneStrings(s.Authority.Reasons)
	n.Divergence.Ranges = cloneRanges(s.Divergence.Ranges)
	n.Files = make([]File, len(s.Files))
	for i, f := range s.Files {
		f.Structures = cloneStrings(f.Structures)
		n.Files[i] = f
	}
	if s.Bitmap != nil {
		b := *s.Bitmap
		b.CoversAll = clonePtr(b.CoversAll)
		b.Uncovered = make([]int64, len(s.Bitmap.Uncovered))
		copy(b.Uncovered, s.Bitmap.Uncovered)
		if len(s.Bitmap.DirtyExtents) > 0 {
			b.DirtyExtents = append([]Extent(nil), s.Bitmap.DirtyExtents...)
		}
		n.Bitmap = &b
	}
	n.Problems = cloneProblems(s.Problems)
	n.Recovered = cloneSalvages(s.Recovered)
	n.Lost = cloneSalvages(s.Lost)
	n.FilesWithLostData = make([]File, len(s.FilesWithLostData))
	for i, f := range s.FilesWithLostData {
		f.Structures = cloneStrings(f.Structures)
		n.FilesWithLostData[i] = f
	}
	if s.Repair != nil {
		rp := *s.Repair
		rp.Source = clonePtr(rp.Source)
		rp.Outputs = make([]RepairOutput, len(s.Repair.Outputs))
		for i, o := range s.Repair.Outputs {
			o.Ranges = cloneRanges(o.Ranges)
			o.MetadataChanges = cloneStrings(o.MetadataChanges)
			o.Hashes = cloneHashes(o.Hashes)
			o.FilesystemFindings = cloneStrings(o.FilesystemFindings)
			rp.Outputs[i] = o
		}
		n.Repair = &rp
	}
	return n
}

func cloneSalvages(ss []Salvage) []Salvage {
	out := make([]Salvage, len(ss))
	for i, s := range ss {
		s.Unreadable = cloneStrings(s.Unreadable)
		s.Source = clonePtr(s.Source)
		s.Owners = cloneOwners(s.Owners)
		out[i] = s
	}
	return out
}

func cloneOwners(os []Owner) []Owner {
	out := make([]Owner, len(os))
	for i := range os {
		out[i] = *cloneOwner(&os[i])
	}
	return out
}

// cloneStrings returns a copy of s that is never nil.
func cloneStrings(s []string) []string {
	out := make([]string, len(s))
	copy(out, s)
	return out
}

// cloneOptionalStrings returns a copy of s, or nil when s is empty.
func cloneOptionalStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return cloneStrings(s)
}

func cloneHashes(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	maps.Copy(out, h)
	return out
}

func cloneRanges(rs []Range) []Range {
	out := make([]Range, len(rs))
	for i, r := range rs {
		r.Agree = make([][]string, len(rs[i].Agree))
		for j, g := range rs[i].Agree {
			r.Agree[j] = cloneStrings(g)
		}
		r.Source = clonePtr(r.Source)
		r.Owner = cloneOwner(r.Owner)
		r.Owners = make([]MemberOwner, len(rs[i].Owners))
		for j, o := range rs[i].Owners {
			o.Owner = *cloneOwner(&o.Owner)
			r.Owners[j] = o
		}
		out[i] = r
	}
	return out
}

func cloneProblems(ps []Problem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		p.Offset = clonePtr(p.Offset)
		out[i] = p
	}
	return out
}

func cloneOwner(o *Owner) *Owner {
	if o == nil {
		return nil
	}
	c := *o
	c.Record, c.Cluster = clonePtr(o.Record), clonePtr(o.Cluster)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
