package scan

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/example"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestPipeline runs the stages on the embedded real md pair: one set,
// diverged, m0 authoritative, and Close releases the images.
func TestPipeline(t *testing.T) {
	paths, err := example.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Group(GroupOptions{}); err != nil {
		t.Fatal(err)
	}
	var calls int
	if err := r.Check(context.Background(), CheckOptions{SectorSize: 512, MaxRanges: 100, Hashes: []string{"sha256"}, Prefer: -1,
		Progress: func(done, total int64) { calls++ }}); err != nil {
		t.Fatal(err)
	}
	rep := r.Report(Meta{Tool: report.Tool{Name: "mirrorchk", Version: "test"}, Generated: time.Unix(0, 0), SectorSize: 512})
	if len(rep.Sets) != 1 || rep.Sets[0].Verdict != report.VerdictDiverged || rep.Sets[0].Authority.Member == nil || *rep.Sets[0].Authority.Member != paths[0] {
		t.Fatalf("report: %+v", rep.Sets)
	}
	if calls == 0 {
		t.Error("progress never called")
	}
	r.Close()
	if r.Images != nil {
		t.Error("Close left images")
	}
	r.Close() // twice is fine
}

func TestOpenSameFileTwice(t *testing.T) {
	paths, err := example.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open([]string{paths[0], paths[0]}, nil)
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("same file twice: %v, want a UsageError", err)
	}
}

func TestCheckCancelled(t *testing.T) {
	paths, err := example.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Group(GroupOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Check(ctx, CheckOptions{SectorSize: 512, Prefer: -1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v", err)
	}
}
