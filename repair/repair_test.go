package repair

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set"
)

// plan scans a real stale-member fixture and plans its repair into out.
func plan(t *testing.T, out string) *Plan {
	t.Helper()
	dir := t.TempDir()
	var ims []*image.Image
	for _, n := range []string{"m0", "m1"} {
		im, err := image.Open(fixture.UnzstdTo(t, "md/md-1.2/c-stale-member-bitmap/"+n+".img.zst", dir))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		ims = append(ims, im)
	}
	sets, _, err := set.Group(ims)
	if err != nil {
		t.Fatal(err)
	}
	res, err := check.Check(context.Background(), sets[0], check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(res, out)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlan(t *testing.T) {
	out := t.TempDir()
	p := plan(t, out)
	if !p.Needed || p.Source == nil || !strings.HasSuffix(p.Source.Path(), "m0.img") || len(p.Outputs) != 2 {
		t.Fatalf("plan: needed %v source %v outputs %d", p.Needed, p.Source, len(p.Outputs))
	}
	// m0 is the source: it receives no data, only metadata.
	if o := p.Outputs[0]; o.BytesCopied != 0 || o.RangesTotal != 0 || len(o.Patches) != 2 {
		t.Errorf("m0 output: bytes %d ranges %d patches %d, want 0 0 2 (superblock, bitmap)", o.BytesCopied, o.RangesTotal, len(o.Patches))
	}
	if o := p.Outputs[1]; o.BytesCopied != 274432 || o.RangesTotal != 3 || len(o.Ranges) != 3 {
		t.Errorf("m1 output: bytes %d ranges %d listed %d, want 274432 3 3", o.BytesCopied, o.RangesTotal, len(o.Ranges))
	}
	if got := p.Outputs[1].Path; got != filepath.Join(out, "m1.img") {
		t.Errorf("output path %s", got)
	}
	// Nothing was written by planning.
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("NewPlan wrote %d files", len(ents))
	}
}

// TestInterruptedWriteLeavesNothing: a repair cancelled mid-copy leaves no
// file under a final name and no partial file.
func TestInterruptedWriteLeavesNothing(t *testing.T) {
	out := t.TempDir()
	p := plan(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Write(ctx, p, Options{ChunkSize: 64 << 10, Progress: func(done, total int64) {
		calls++
		if done > 1<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("interrupted repair left %v", names)
	}
}

// TestWriteNeverOverwrites: an existing file with an output's name is
// refused, before and at publication.
func TestWriteNeverOverwrites(t *testing.T) {
	out := t.TempDir()
	p := plan(t, out)
	final := p.Outputs[0].Path
	if err := os.WriteFile(final, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutDir(out, nil, []string{final}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("CheckOutDir = %v, want already exists", err)
	}
	err := Write(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Write = %v, want already exists", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "precious" {
		t.Errorf("existing file was overwritten")
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Errorf("out holds %d files, want only the existing one", len(ents))
	}
}

// TestWriteVerifies: outputs hold the source's data and are reported verified.
func TestWriteVerifies(t *testing.T) {
	out := t.TempDir()
	p := plan(t, out)
	if err := Write(context.Background(), p, Options{Hashes: []string{"sha256", "md5"}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Outputs {
		if !o.Verified || o.DataSHA256 == "" || len(o.Hashes) != 2 {
			t.Errorf("%s: verified %v data %q hashes %v", o.Path, o.Verified, o.DataSHA256, o.Hashes)
		}
		fi, err := os.Stat(o.Path)
		if err != nil || fi.Size() != o.Member.Image.Size() {
			t.Errorf("%s: %v size %v", o.Path, err, fi)
		}
	}
	if p.Outputs[0].DataSHA256 != p.Outputs[1].DataSHA256 {
		t.Errorf("outputs' data areas differ")
	}
}

func TestOutputName(t *testing.T) {
	for in, want := range map[string]string{
		"/x/m0.img":    "m0.img",
		"disk.001":     "disk.img",
		"a/b/sda.0001": "sda.img",
		"plain":        "plain",
	} {
		if got := outputName(in, false); got != want {
			t.Errorf("outputName(%q) = %q, want %q", in, got, want)
		}
	}
	// A container is written as a raw image, named for it.
	for in, want := range map[string]string{
		"/x/m0.qcow2":   "m0.img",
		"case/disk.E01": "disk.img",
		"m1.vhdx":       "m1.img",
		"noext":         "noext.img",
	} {
		if got := outputName(in, true); got != want {
			t.Errorf("outputName(%q, container) = %q, want %q", in, got, want)
		}
	}
}
