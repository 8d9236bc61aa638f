package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden writes every case as JSON and text and compares the results
// with testdata/<case>.golden.json and .golden.txt. Run
// "go test ./report -update" to rewrite them, then review the diff.
func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var j, txt bytes.Buffer
			if err := WriteJSON(&j, c.r()); err != nil {
				t.Fatalf("WriteJSON: %v", err)
			}
			if err := WriteText(&txt, c.r()); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			checkGolden(t, filepath.Join("testdata", c.name+".golden.json"), j.Bytes())
			checkGolden(t, filepath.Join("testdata", c.name+".golden.txt"), txt.Bytes())
		})
	}
}

// TestGoldenFilesHaveCases fails on a golden file whose case is gone, so
// stale files do not linger (they would still be schema-validated).
func TestGoldenFilesHaveCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range cases {
		names[c.name] = true
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3*len(cases) {
		t.Errorf("found %d golden files, want %d (3 per case: JSON, text, HTML)", len(files), 3*len(cases))
	}
	for _, f := range files {
		name := strings.SplitN(filepath.Base(f), ".golden.", 2)[0]
		if !names[name] {
			t.Errorf("%s: no case %q", f, name)
		}
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./report -update to rewrite it):\n%s", path, firstDiff(got, want))
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(no line differs)"
}

func TestWriteDeterministic(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			for _, write := range []func(*bytes.Buffer) error{
				func(b *bytes.Buffer) error { return WriteJSON(b, r) },
				func(b *bytes.Buffer) error { return WriteText(b, r) },
			} {
				var first, second bytes.Buffer
				if err := write(&first); err != nil {
					t.Fatal(err)
				}
				if err := write(&second); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Bytes(), second.Bytes()) {
					t.Errorf("two writes differ:\n%s", firstDiff(second.Bytes(), first.Bytes()))
				}
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJSON(&buf, c.r()); err != nil {
				t.Fatal(err)
			}
			written := bytes.Clone(buf.Bytes())
			got, err := ReadJSON(&buf)
			if err != nil {
				t.Fatalf("ReadJSON: %v", err)
			}
			if want := Normalized(c.r()); !reflect.DeepEqual(got, want) {
				t.Errorf("ReadJSON(WriteJSON(r)) = %+v\nwant %+v", got, want)
			}
			var again bytes.Buffer
			if err := WriteJSON(&again, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), written) {
				t.Errorf("writing the read report again differs:\n%s", firstDiff(again.Bytes(), written))
			}
		})
	}
}

// sparse is a report with every array and map field nil, and every nested
// object present so that its arrays are written too.
func sparse() *Report {
	return &Report{
		Sets: []Set{{
			Members:    []Member{{}},
			Divergence: Divergence{Ranges: []Range{{Agree: [][]string{nil}}}},
			Bitmap:     &Bitmap{},
			Repair:     &Repair{Outputs: []RepairOutput{{Ranges: []Range{{}}}}},
		}},
	}
}

func TestWriteJSONEmptyArrays(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sparse()); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// Only the pointer fields may be null.
	nullable := map[string]bool{
		"generation": true, "member": true, "source": true, "bitmap": true, "repair": true,
		"offset": true, "covers_all_ranges": true, "owner": true, "partition": true, "record": true, "cluster": true,
	}
	walkJSON(doc, "", func(path, key string, v any) {
		if v == nil && !nullable[key] {
			t.Errorf("%s is null, want [] or {}", path)
		}
	})
	for _, want := range []string{
		`"command": []`, `"problems": []`, `"evidence": []`, `"reasons": []`, `"agree": []`,
		`"hashes": {}`, `"uncovered_offsets": []`, `"outputs": [`, `"metadata_changes": []`,
		`"schema": "mirrorchk.report/1"`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, buf.String())
		}
	}
	agree := doc.(map[string]any)["sets"].([]any)[0].(map[string]any)["divergence"].(map[string]any)["ranges"].([]any)[0].(map[string]any)["agree"]
	if !reflect.DeepEqual(agree, []any{[]any{}}) {
		t.Errorf("agreement groups [nil] written as %v, want [[]]", agree)
	}
	if strings.Contains(buf.String(), `"segments"`) {
		t.Errorf("empty segments written; want the field omitted")
	}
	if !strings.HasSuffix(buf.String(), "}\n") {
		t.Errorf("output does not end in a newline")
	}
}

// walkJSON calls f for every value in doc with its path and object key.
func walkJSON(doc any, path string, f func(path, key string, v any)) {
	switch d := doc.(type) {
	case map[string]any:
		for k, v := range d {
			f(path+"."+k, k, v)
			walkJSON(v, path+"."+k, f)
		}
	case []any:
		for i, v := range d {
			walkJSON(v, path+"["+strconv.Itoa(i)+"]", f)
		}
	}
}

func TestWriteJSONDoesNotModify(t *testing.T) {
	r := sparse()
	if err := WriteJSON(&bytes.Buffer{}, r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, sparse()) {
		t.Errorf("WriteJSON modified its argument: %+v", r)
	}
}

func TestNormalizedDoesNotAlias(t *testing.T) {
	r := repairWritten()
	n := Normalized(r)
	// Change everything reachable in n; r must stay as built.
	n.Command[0] = "x"
	s := &n.Sets[0]
	s.Members[0].Hashes["sha256"] = "x"
	s.Members[0].Evidence[0] = "x"
	*s.Members[0].Generation = 99
	s.Authority.Reasons[0] = "x"
	*s.Authority.Member = "x"
	s.Divergence.Ranges[0].Agree[0][0] = "x"
	*s.Divergence.Ranges[0].Source = "x"
	s.Bitmap.ChunkSize = 1
	*s.Bitmap.CoversAll = false
	*s.Problems[0].Offset = 1
	s.Repair.Outputs[0].Ranges[0].Agree[1][0] = "x"
	s.Repair.Outputs[0].MetadataChanges[0] = "x"
	s.Repair.Outputs[0].Hashes["md5"] = "x"
	*s.Repair.Source = "x"
	if !reflect.DeepEqual(r, repairWritten()) {
		t.Errorf("changing Normalized(r) changed r")
	}
	if Normalized(nil) != nil {
		t.Errorf("Normalized(nil) != nil")
	}
}

func TestNormalizedIdempotent(t *testing.T) {
	for _, c := range cases {
		n := Normalized(c.r())
		if nn := Normalized(n); !reflect.DeepEqual(nn, n) {
			t.Errorf("%s: Normalized(Normalized(r)) != Normalized(r)", c.name)
		}
	}
}

func TestWriteJSONSchemaField(t *testing.T) {
	r := clean()
	r.Schema = ""
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatalf("WriteJSON with empty schema: %v", err)
	}
	if !strings.Contains(buf.String(), `"schema": "mirrorchk.report/1"`) {
		t.Errorf("empty Schema not written as %q", Schema)
	}
	r.Schema = "mirrorchk.report/2"
	if err := WriteJSON(&buf, r); !errors.Is(err, ErrSchemaVersion) {
		t.Errorf("WriteJSON with schema %q: err = %v, want ErrSchemaVersion", r.Schema, err)
	}
	if err := WriteJSON(&buf, nil); err == nil {
		t.Errorf("WriteJSON(nil) succeeded")
	}
}

func TestReadJSONRejects(t *testing.T) {
	var good bytes.Buffer
	if err := WriteJSON(&good, clean()); err != nil {
		t.Fatal(err)
	}
	v1 := good.String()
	tests := []struct {
		name      string
		doc       string
		wantIsVer bool // errors.Is(err, ErrSchemaVersion)
	}{
		{"version 2", strings.Replace(v1, `"mirrorchk.report/1"`, `"mirrorchk.report/2"`, 1), true},
		// A later version may retype fields; the version must be the error.
		{"version 2 retyped", `{"schema": "mirrorchk.report/2", "sets": {"a": 1}}`, true},
		{"no schema", strings.Replace(v1, `"schema": "mirrorchk.report/1",`, ``, 1), true},
		{"empty schema", strings.Replace(v1, `"mirrorchk.report/1"`, `""`, 1), true},
		{"other tool", `{"schema": "restic/1"}`, true},
		{"not an object", `[]`, false},
		{"empty", ``, false},
		{"truncated", v1[:len(v1)/2], false},
		{"trailing data", v1 + `{}`, false},
		{"wrong type", strings.Replace(v1, `"sector_size": 512`, `"sector_size": "512"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadJSON(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("ReadJSON succeeded: %+v", r)
			}
			if got := errors.Is(err, ErrSchemaVersion); got != tt.wantIsVer {
				t.Errorf("ReadJSON: err = %v; errors.Is(err, ErrSchemaVersion) = %v, want %v", err, got, tt.wantIsVer)
			}
		})
	}
}

// TestReadJSONForward: fields added later within version 1 are ignored.
func TestReadJSONForward(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, clean()); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(buf.String(), `"tool": {`, `"future": {"x": [1, 2]}, "tool": {"build": "abc", `, 1)
	doc = strings.Replace(doc, `"verdict": "consistent"`, `"verdict": "consistent", "verdict_detail": 7`, 1)
	got, err := ReadJSON(strings.NewReader(doc + "\n\n"))
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if want := Normalized(clean()); !reflect.DeepEqual(got, want) {
		t.Errorf("ReadJSON with extra fields = %+v\nwant %+v", got, want)
	}
}

// TestTextPlain checks properties of every text golden that the golden
// comparison alone would not flag when rewritten with -update.
func TestTextPlain(t *testing.T) {
	for _, c := range cases {
		var buf bytes.Buffer
		if err := WriteText(&buf, c.r()); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			for _, b := range []byte(line) {
				if b < 0x20 || b > 0x7e {
					t.Errorf("%s line %d: byte %#x is not printable ASCII: %q", c.name, i+1, b, line)
					break
				}
			}
			if strings.TrimRight(line, " ") != line {
				t.Errorf("%s line %d has trailing spaces: %q", c.name, i+1, line)
			}
			if len(line) > 132 {
				t.Errorf("%s line %d is %d columns wide: %q", c.name, i+1, len(line), line)
			}
		}
		if !strings.HasSuffix(buf.String(), "\n") {
			t.Errorf("%s: text does not end in a newline", c.name)
		}
	}
}

func TestWriteTextSparse(t *testing.T) {
	// A report with nothing filled in must still render.
	var buf bytes.Buffer
	if err := WriteText(&buf, sparse()); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&buf, &Report{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&buf, nil); err == nil {
		t.Errorf("WriteText(nil) succeeded")
	}
}

func TestHuman(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{1, "1 byte"},
		{512, "512 bytes"},
		{1023, "1023 bytes"},
		{1024, "1024 bytes (1.0 KiB)"},
		{1536, "1536 bytes (1.5 KiB)"},
		{270336, "270336 bytes (264.0 KiB)"},
		{1<<20 - 1, "1048575 bytes (1.0 MiB)"},
		{8 << 20, "8388608 bytes (8.0 MiB)"},
		{1<<40 + 1<<39, "1649267441664 bytes (1.5 TiB)"},
		{1<<63 - 1, "9223372036854775807 bytes (8.0 EiB)"},
		{-5, "-5 bytes"},
	}
	for _, tt := range tests {
		if got := sizeText(tt.n); got != tt.want {
			t.Errorf("sizeText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestEscaping(t *testing.T) {
	tests := []struct {
		f        func(string) string
		name, in string
		want     string
	}{
		{text, "text", "plain", "plain"},
		{text, "text", "a\nb", `a\nb`},
		{text, "text", `say "hi" \ \u00e9`, `say "hi" \ \u00e9`},
		{text, "text", "caf\u00e9 \"x\"", `caf\u00e9 "x"`},
		{text, "text", "bad\xff", `bad\xff`},
		{pathText, "pathText", `C:\cases\m0.img`, `C:\cases\m0.img`},
		{pathText, "pathText", "/a b/m0.img", "/a b/m0.img"},
		{pathText, "pathText", "/x/d\u00edsk.img", `"/x/d\u00edsk.img"`},
		{pathText, "pathText", "/x/m0\n.img", `"/x/m0\n.img"`},
		{pathText, "pathText", `"quoted".img`, `"\"quoted\".img"`},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	if got, want := commandLine([]string{"mirrorchk", "scan", "a b.img", "it's", "", "x\ty"}),
		`mirrorchk scan 'a b.img' 'it'\''s' '' $'x\ty'`; got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

// TestProvenanceTextOneLine: a file name, directory or user name with a
// newline cannot add a line of its own to the text report's provenance.
func TestProvenanceTextOneLine(t *testing.T) {
	evil := "x\nVerdict: m1.img is current"
	rep := &Report{Provenance: &Provenance{Command: []string{"mirrorchk", "scan", evil + ".img"}, Cwd: "/cases/" + evil, Host: evil, User: evil}}
	var b bytes.Buffer
	if err := WriteProvenanceText(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "Verdict") {
			t.Errorf("a name became a line of its own:\n%s", b.String())
		}
	}
}

// TestCommandLineShell: the command lines of a report (its Command and its
// Next steps) are read back by a real shell as the very arguments, however
// hostile the file names, and stay on one line.
func TestCommandLineShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed (Debian package bash)")
	}
	args := []string{"scan", "a b.img", "it's", "", "x\ty", "evil\nVerdict: m1.img is current.img", "d\u00edsk&2.img",
		"$HOME", "`id`", "back\\slash'", "bad\xff\x01\x7f", "tab\there", "0\x1b[31mred", "\"q\"", "*", "~x", "a;b|c>d"}
	line := commandLine(append([]string{"printf"}, append([]string{"%s\\0"}, args...)...))
	if strings.ContainsAny(line, "\n\r") {
		t.Fatalf("the command line spans lines: %q", line)
	}
	out, err := exec.Command(bash, "-c", line).Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", line, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, args) {
		t.Errorf("bash read back\n%q\nfrom %s\nwant %q", got, line, args)
	}
}

func TestMemberLabels(t *testing.T) {
	lab := memberLabels([]Member{{Path: "/a/m0.img"}, {Path: `D:\b\m1.img`}})
	if got := lab.of("/a/m0.img") + " " + lab.of(`D:\b\m1.img`) + " " + lab.of("/other"); got != "m0.img m1.img /other" {
		t.Errorf("unique base names: labels %q", got)
	}
	lab = memberLabels([]Member{{Path: "/a/disk.img"}, {Path: "/b/disk.img"}})
	if got := lab.of("/a/disk.img"); got != "/a/disk.img" {
		t.Errorf("shared base names: label %q, want the full path", got)
	}
}

func TestSchemaJSON(t *testing.T) {
	a := SchemaJSON()
	if !json.Valid(a) {
		t.Fatal("SchemaJSON is not valid JSON")
	}
	a[0] = 'x'
	if b := SchemaJSON(); b[0] != '{' {
		t.Errorf("SchemaJSON returns shared memory")
	}
}
