package check

import (
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// TestSeqAfter: the NTFS sequence number goes up by one per free and
// wraps from 0xFFFF to 1; 0 compares with nothing.
func TestSeqAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b uint16
		want bool
	}{
		{2, 1, true}, {1, 2, false}, {1, 1, false}, {1, 0xFFFF, true}, {0xFFFF, 1, false},
		{0, 1, false}, {1, 0, false}, {300, 5, true},
	} {
		if got := seqAfter(tc.a, tc.b); got != tc.want {
			t.Errorf("seqAfter(%d, %d) = %v", tc.a, tc.b, got)
		}
	}
}

// TestNTFSRecordWrites: which copy of a record each driver-kept field
// shows written later.
func TestNTFSRecordWrites(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	used := fs.RecordStamp{Formatted: true, InUse: true, Seq: 1, Changed: t0}
	later := used
	later.Changed = t0.Add(time.Second)
	freed := used
	freed.InUse, freed.Seq = false, 2
	reused := used
	reused.Seq = 2
	free1 := freed
	free1.Seq = 1
	logged := used
	logged.LSN = 900
	logged0 := used
	logged0.LSN = 800
	for _, tc := range []struct {
		name   string
		a, b   fs.RecordStamp
		want   string // a phrase of a's evidence, "" for none
		alloc  bool
		noBack bool // b shows nothing over a
	}{
		{"changed later", later, used, "MFT change time 2026-12-06T17:00:01Z on a", false, true},
		{"freed", freed, used, "freed on a: sequence number 2 there, 1 on b", false, true},
		{"kept, other freed", used, freed, "", false, false},
		{"reused", reused, used, "a freed the record and reused it", true, true},
		{"allocated", used, free1, "free on b with the same sequence number 1", true, true},
		{"never used", used, fs.RecordStamp{}, "never used on b", true, true},
		{"logged", logged, logged0, "record LSN 900 on a, 800 on b", false, true},
		{"free on both", freed, free1, "", false, true},
		{"equal", used, used, "", false, true},
	} {
		why, alloc := ntfsRecordWrites(tc.a, tc.b, "a", "b")
		all := strings.Join(why, "; ")
		if (tc.want == "") != (len(why) == 0) || !strings.Contains(all, tc.want) || alloc != tc.alloc {
			t.Errorf("%s: %q alloc %v", tc.name, all, alloc)
		}
		if back, _ := ntfsRecordWrites(tc.b, tc.a, "b", "a"); tc.noBack != (len(back) == 0) {
			t.Errorf("%s: back %q", tc.name, back)
		}
	}
}
