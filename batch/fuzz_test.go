package batch

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// FuzzReadIdentity: any first sectors give an identity or an error, never
// a panic, and never read past the image. Seeded with the first 64 KiB of
// real images (mkfs.fat FAT16, an sfdisk MBR disk, mkntfs NTFS).
func FuzzReadIdentity(f *testing.F) {
	for _, rel := range []string{"fsmirror/bare-pair/m0.img.zst", "fsmirror/mbr-pair/m0.img.zst", "ntfs/small.img.zst", "fat/small-fat12.img.zst"} {
		b := fixture.MustReadUnzstd(rel)
		f.Add(b[:min(len(b), 2048)])
		if len(b) > 1<<20+1024 {
			f.Add(b[1<<20 : 1<<20+1024]) // an MBR disk's partition boot sector
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &bounded{b: b}
		id, err := ReadIdentity(r, int64(len(b)))
		if err == nil && id.Strong && len(id.Tokens) == 0 {
			t.Fatal("strong identity without tokens")
		}
	})
}

type bounded struct{ b []byte }

func (r *bounded) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(r.b)) {
		return 0, bytes.ErrTooLarge
	}
	return copy(p, r.b[off:]), nil
}

// FuzzManifest: any manifest gives rows or a ManifestError, never a panic.
func FuzzManifest(f *testing.F) {
	f.Add([]byte("image,case,set,hive,member,serial,prefer\na.img,c,s,H,1:2,SN,true\n"))
	f.Add([]byte("{\"image\": \"a.img\", \"prefer\": true}\n"))
	f.Add([]byte("\ufeffimage\n\"a,b\".img\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseManifest("/cases/m.csv", b)
		if err == nil {
			for _, r := range rows {
				if r.Path == "" {
					t.Fatal("a row without image")
				}
			}
		}
	})
}

// FuzzMerge: any two files given to merge give a report or a MergeError,
// never a panic, and never work in proportion to a count a file claims (a
// shard "0/2000000000" is one missing-shard error, at once). Seeded with
// the JSONL outputs WriteJSONL writes for the two shards of a plan.
func FuzzMerge(f *testing.F) {
	var outs [2]bytes.Buffer
	for i, key := range []string{"md:a", "md:b", "md:c", "bare:d"} {
		sh := ShardOf(key, 2)
		code := i % 2 * 4
		rep := &report.Report{Plan: "p1", Shard: fmt.Sprintf("%d/2", sh), Inputs: &report.InputsSummary{Sets: 4},
			Sets: []report.Set{{Key: key, Verdict: report.VerdictConsistent, ExitCode: &code}}, SetIndexes: []int{i}}
		if err := report.WriteJSONL(&outs[sh], rep); err != nil {
			f.Fatal(err)
		}
	}
	// Each shard's file holds one summary per WriteJSONL call above: keep
	// the set lines and the last summary of each.
	var seeds [2][]byte
	for i := range outs {
		lines := bytes.SplitAfter(outs[i].Bytes(), []byte("\n"))
		var keep [][]byte
		var last []byte
		for _, l := range lines {
			if bytes.Contains(l, []byte(`"type":"summary"`)) {
				last = l
			} else if len(l) > 0 {
				keep = append(keep, l)
			}
		}
		last = bytes.Replace(last, []byte(`"sets":1`), []byte(fmt.Sprintf(`"sets":%d`, len(keep))), 1)
		seeds[i] = bytes.Join(append(keep, last), nil)
	}
	if _, err := Merge([]Shard{{"0", bytes.NewReader(seeds[0])}, {"1", bytes.NewReader(seeds[1])}}); err != nil {
		f.Fatalf("the seeds do not merge: %v", err)
	}
	f.Add(seeds[0], seeds[1])
	huge := [2][]byte{bytes.ReplaceAll(seeds[0], []byte(`"0/2"`), []byte(`"0/2000000000"`)), bytes.ReplaceAll(seeds[1], []byte(`"1/2"`), []byte(`"1/2000000000"`))}
	_, err := Merge([]Shard{{"0", bytes.NewReader(huge[0])}, {"1", bytes.NewReader(huge[1])}})
	if err == nil || !strings.Contains(err.Error(), "shard 2/2000000000, 3/2000000000, ") || !strings.Contains(err.Error(), " and 1999999988 more missing") {
		f.Fatalf("two shards of a plan of 2000000000: %v", err)
	}
	f.Add(huge[0], huge[1])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		rep, err := Merge([]Shard{{"a", bytes.NewReader(a)}, {"b", bytes.NewReader(b)}})
		if err == nil && (rep.ExitCode == nil || rep.Sets == nil) {
			t.Fatalf("a merged report without exit code or sets: %+v", rep)
		}
	})
}
