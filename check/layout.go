package check

import (
	"fmt"
	"io"
	"sort"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/fs/part"
)

// Opener tries to read one kind of filesystem; it returns an error when
// the bytes are not that filesystem at all.
type Opener struct {
	Name string
	Open func(r io.ReaderAt, size int64) (fs.Volume, error)
}

// Layout is how one member's data area divides into a partition table and
// filesystems. Offsets are bytes from the start of the data area.
type Layout struct {
	Table   *part.Table // nil when the data area could not be read
	Volumes []Placed    // in offset order
	Notes   []string    // why a partition holds no recognised filesystem, …
	sector  int64       // logical sector size the table was read with
}

// Placed is a filesystem found in a data area.
type Placed struct {
	Start, Size int64
	Partition   *part.Partition // nil for a filesystem at the start of the data area
	Vol         fs.Volume
}

// ReadLayout finds the partition table and filesystems in a data area of
// size bytes read through r. A damaged or unknown filesystem is a note, not
// an error; the error is for failing reads.
func ReadLayout(r io.ReaderAt, size int64, sectorSize int, openers []Opener) (*Layout, error) {
	t, err := part.Read(r, size, sectorSize)
	if err != nil {
		return nil, err
	}
	l := &Layout{Table: t, sector: int64(sectorSize)}
	if l.sector == 0 {
		l.sector = 512
	}
	try := func(start, n int64, p *part.Partition) {
		var why []string
		for _, o := range openers {
			v, err := o.Open(io.NewSectionReader(r, start, n), n)
			if err == nil {
				l.Volumes = append(l.Volumes, Placed{Start: start, Size: n, Partition: p, Vol: v})
				return
			}
			why = append(why, fmt.Sprintf("%s: %v", o.Name, err))
		}
		where := "the data area"
		if p != nil {
			where = fmt.Sprintf("partition %d (%s, bytes %d-%d)", p.Index, p.Type, p.Start, p.End())
		}
		l.Notes = append(l.Notes, fmt.Sprintf("no filesystem recognised in %s %v", where, why))
	}
	if t.Kind == part.None {
		try(0, size, nil)
		return l, nil
	}
	for i := range t.Partitions {
		p := &t.Partitions[i]
		if err := p.Contain(size); err != nil {
			l.Notes = append(l.Notes, err.Error())
			continue
		}
		if p.LDM || p.Extended() {
			continue // LDM volumes are found through the LDM database; extended partitions hold tables
		}
		try(p.Start, p.Size, p)
	}
	sort.Slice(l.Volumes, func(i, j int) bool { return l.Volumes[i].Start < l.Volumes[j].Start })
	return l, nil
}

// owned is a run of data-area bytes with one owner in one member.
type owned struct {
	Off, Len int64
	Owner    fs.Owner
	Vol      int // index into Layout.Volumes, -1 outside any filesystem
}

// Owners covers [off, off+n) of the data area with owned runs.
func (l *Layout) Owners(off, n int64) []owned {
	var out []owned
	end := off + n
	gap := func(a, b int64) {
		for a < b {
			o := owned{Off: a, Vol: -1}
			stop := b
			o.Owner = fs.Owner{Record: -1, Cluster: -1}
			p := l.partitionAt(a)
			switch {
			case l.Table == nil || l.Table.Kind == part.None:
				o.Owner.Structure = "unrecognised"
			case l.Table.Kind == part.MBR && a < l.sector:
				o.Owner.Structure, stop = fs.PartitionTable, min(b, l.sector)
			case l.Table.Kind == part.GPT && a < 34*l.sector:
				o.Owner.Structure, stop = fs.PartitionTable, min(b, 34*l.sector)
			case p != nil:
				stop = min(b, p.End())
				switch {
				case p.LDM:
					o.Owner.Structure = fmt.Sprintf("partition %d (%s: read through the LDM database)", p.Index, p.TypeName)
				case p.Extended():
					o.Owner.Structure = fmt.Sprintf("partition %d (%s): extended boot records and gaps", p.Index, p.TypeName)
				default:
					o.Owner.Structure = fmt.Sprintf("partition %d (type %s): no filesystem recognised", p.Index, p.Type)
				}
			default:
				o.Owner.Structure = fs.Unpartitioned
				for _, q := range l.Table.Partitions { // up to the next partition
					if q.Start > a {
						stop = min(stop, q.Start)
					}
				}
			}
			o.Len = stop - a
			out = append(out, o)
			a = stop
		}
	}
	cur := off
	for i, v := range l.Volumes {
		vEnd := v.Start + v.Size
		if vEnd <= cur || v.Start >= end {
			continue
		}
		if v.Start > cur {
			gap(cur, v.Start)
			cur = v.Start
		}
		stop := min(end, vEnd)
		for _, e := range v.Vol.Owners(cur-v.Start, stop-cur) {
			out = append(out, owned{Off: v.Start + e.Off, Len: e.Len, Owner: e.Owner, Vol: i})
		}
		cur = stop
	}
	if cur < end {
		gap(cur, end)
	}
	return out
}

// partitionAt is the table entry holding byte off, or nil.
func (l *Layout) partitionAt(off int64) *part.Partition {
	if l.Table == nil {
		return nil
	}
	var ext *part.Partition
	for i := range l.Table.Partitions {
		p := &l.Table.Partitions[i]
		if off >= p.Start && off < p.End() {
			if !p.Extended() {
				return p // a logical partition before the extended one holding it
			}
			ext = p
		}
	}
	return ext
}

// Judge asks the filesystem holding [off, off+n) about this member's copy.
func (l *Layout) Judge(off, n int64) fs.Judgement {
	for _, v := range l.Volumes {
		if off >= v.Start && off+n <= v.Start+v.Size {
			return v.Vol.Judge(off-v.Start, n)
		}
	}
	return fs.Judgement{}
}
