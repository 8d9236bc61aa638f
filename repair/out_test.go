package repair

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func touch(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIdentity(t *testing.T) {
	a, b := Identity("x", "y"), Identity("x", "y")
	if a != b || len(a) != 16 {
		t.Errorf("Identity not stable: %s %s", a, b)
	}
	if Identity("x", "y") == Identity("xy") || Identity("x", "y") == Identity("y", "x") {
		t.Error("Identity does not separate its parts")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	touch(t, p, "1")
	before := FileIdentity(p)
	touch(t, p, "22")
	if FileIdentity(p) == before {
		t.Error("FileIdentity does not see a changed file")
	}
}

// PrepareOut's handling of what interrupted runs leave: its own plan's
// leftovers (partial files, the outputs and mapfiles its marker lists, a
// marker being written) are removed; another plan's leftovers for the same
// outputs refuse, naming them; another plan's marker for other outputs is
// left alone; a dry run removes nothing.
func TestPrepareOutLeftovers(t *testing.T) {
	const id, other = "00112233aabbccdd", "ffeeddccbbaa9988"
	outs := func(dir string) []OutSpec {
		return []OutSpec{{Path: filepath.Join(dir, "m0.img")}, {Path: filepath.Join(dir, "m1.img")}}
	}
	t.Run("own leftovers", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, filepath.Join(dir, planPrefix+id), "mirrorchk repair plan\nm0.img\nm1.img\n")
		touch(t, filepath.Join(dir, "m0.img"), "published before the kill")
		touch(t, filepath.Join(dir, "m0.img.map"), "map")
		touch(t, filepath.Join(dir, ".m1.img"+partialInfix+id), "partial")
		touch(t, filepath.Join(dir, planPrefix+other), "another plan\nx.img\n") // not ours, other outputs
		touch(t, filepath.Join(dir, "unrelated.txt"), "mine")
		dry, err := PrepareOut(dir, nil, outs(dir), id, true)
		if err != nil || len(dry.Removed) != 4 || len(names(t, dir)) != 6 {
			t.Fatalf("dry run: %v, would remove %v, directory %v", err, dry, names(t, dir))
		}
		o, err := PrepareOut(dir, nil, outs(dir), id, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{planPrefix + id, planPrefix + other, "unrelated.txt"}
		if got := names(t, dir); !slices.Equal(got, want) {
			t.Errorf("after PrepareOut: %v, want %v (removed %v)", got, want, o.Removed)
		}
		o.Done()
		if got := names(t, dir); slices.Contains(got, planPrefix+id) {
			t.Errorf("Done left the marker: %v", got)
		}
	})
	t.Run("another plan", func(t *testing.T) {
		for _, name := range []string{".m1.img" + partialInfix + other, ".m0.img.map" + partialInfix + "123456789", planPrefix + other} {
			dir := t.TempDir()
			touch(t, filepath.Join(dir, name), "another plan\nm1.img\n")
			_, err := PrepareOut(dir, nil, outs(dir), id, false)
			var oe *OutError
			if !errors.As(err, &oe) || oe.Space || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: %v, want a refusal naming it", name, err)
			}
			if got := names(t, dir); !slices.Equal(got, []string{name}) {
				t.Errorf("%s: a refusal changed the directory: %v", name, got)
			}
		}
	})
	t.Run("marker being written", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, filepath.Join(dir, planPrefix+id+".tmp"), "mirrorchk")
		if _, err := PrepareOut(dir, nil, outs(dir), id, false); err != nil {
			t.Fatal(err)
		}
		if got := names(t, dir); !slices.Equal(got, []string{planPrefix + id}) {
			t.Errorf("directory %v", got)
		}
	})
}
