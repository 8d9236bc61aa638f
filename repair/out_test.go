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
	// A walked batch writes each set into its own subdirectory of --out:
	// the marker lists "SET/NAME", and the leftovers in those
	// subdirectories are this plan's too (and another plan's refused there).
	t.Run("set subdirectories", func(t *testing.T) {
		dir := t.TempDir()
		for _, sub := range []string{"set-a", "set-b"} {
			os.Mkdir(filepath.Join(dir, sub), 0o755)
		}
		sets := []OutSpec{
			{Path: filepath.Join(dir, "set-a", "m0.img")}, {Path: filepath.Join(dir, "set-a", "m1.img")},
			{Path: filepath.Join(dir, "set-b", "m0.img")}, {Path: filepath.Join(dir, "set-b", "m1.img")},
			{Path: filepath.Join(dir, "set-c", "m0.img")}, // not made yet
		}
		touch(t, filepath.Join(dir, planPrefix+id), "mirrorchk repair plan\nset-a/m0.img\nset-a/m1.img\nset-b/m0.img\nset-b/m1.img\nset-c/m0.img\n../escape.img\n")
		touch(t, filepath.Join(dir, "escape.img.map"), "not under the directory the marker may name")
		touch(t, filepath.Join(dir, "set-a", "m0.img"), "published before the kill")
		touch(t, filepath.Join(dir, "set-a", "m0.img.map"), "map")
		touch(t, filepath.Join(dir, "set-a", "m1.img"), "published before the kill")
		touch(t, filepath.Join(dir, "set-b", ".m0.img"+partialInfix+id), "partial")
		touch(t, filepath.Join(dir, "set-b", "notes.txt"), "mine")
		dry, err := PrepareOut(dir, nil, sets, id, true)
		want := []string{planPrefix + id, "set-a/m0.img", "set-a/m0.img.map", "set-a/m1.img", "set-b/.m0.img" + partialInfix + id}
		if err != nil || !slices.Equal(dry.Removed, want) {
			t.Fatalf("dry run: %v, would remove %v, want %v", err, dry, want)
		}
		o, err := PrepareOut(dir, nil, sets, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(o.Removed, want) {
			t.Errorf("removed %v, want %v", o.Removed, want)
		}
		if got := names(t, filepath.Join(dir, "set-a")); len(got) != 0 {
			t.Errorf("set-a holds %v after PrepareOut", got)
		}
		if got := names(t, filepath.Join(dir, "set-b")); !slices.Equal(got, []string{"notes.txt"}) {
			t.Errorf("set-b holds %v after PrepareOut", got)
		}
		if got := names(t, dir); !slices.Equal(got, []string{planPrefix + id, "escape.img.map", "set-a", "set-b"}) {
			t.Errorf("--out holds %v after PrepareOut", got)
		}
		marker, _ := os.ReadFile(filepath.Join(dir, planPrefix+id))
		if !strings.Contains(string(marker), "\nset-b/m1.img\n") {
			t.Errorf("the new marker does not list set-b/m1.img:\n%s", marker)
		}
		o.Done()

		// Another plan's partial file in a set's subdirectory is refused.
		foreign := filepath.Join(dir, "set-b", ".m1.img"+partialInfix+other)
		touch(t, foreign, "partial")
		_, err = PrepareOut(dir, nil, sets, id, false)
		if err == nil || !strings.Contains(err.Error(), "set-b/.m1.img"+partialInfix+other) {
			t.Errorf("another plan's partial file in set-b: %v, want a refusal naming it", err)
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
