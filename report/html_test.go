package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHTMLGolden writes every case as HTML and compares the result with
// testdata/<case>.golden.html. Run "go test ./report -update" to rewrite
// them, then review the diff (open them in a browser, too).
func TestHTMLGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHTML(&buf, c.r()); err != nil {
				t.Fatalf("WriteHTML: %v", err)
			}
			checkGolden(t, filepath.Join("testdata", c.name+".golden.html"), buf.Bytes())
		})
	}
}

func TestHTMLDeterministic(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var first, second, other bytes.Buffer
			r := c.r()
			if err := WriteHTML(&first, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(&second, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(&other, c.r()); err != nil { // an equal report, built again
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Errorf("two writes differ:\n%s", firstDiff(second.Bytes(), first.Bytes()))
			}
			if !bytes.Equal(first.Bytes(), other.Bytes()) {
				t.Errorf("writes of equal reports differ:\n%s", firstDiff(other.Bytes(), first.Bytes()))
			}
		})
	}
}

// TestHTMLContent checks that every set, problem code and range offset of
// each case appears, and that the summary links to each set.
func TestHTMLContent(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			var buf bytes.Buffer
			if err := WriteHTML(&buf, r); err != nil {
				t.Fatal(err)
			}
			doc := checkHTMLWellFormed(t, buf.Bytes())
			text := doc.text.String()
			want := []string{htmlText(r.Generated), r.Schema, summary(r)}
			for _, p := range r.Problems {
				want = append(want, p.Code)
			}
			for i, s := range r.Sets {
				anchor := "set-" + strconv.Itoa(i+1)
				if !doc.ids[anchor] {
					t.Errorf("no element with id %q", anchor)
				}
				if !doc.hrefs["#"+anchor] {
					t.Errorf("no link to #%s", anchor)
				}
				want = append(want, htmlText(s.ID), s.Verdict)
				for _, m := range s.Members {
					want = append(want, htmlPath(m.Path))
					for _, h := range m.Hashes {
						want = append(want, h) // in full
					}
				}
				for _, reason := range s.Authority.Reasons {
					want = append(want, htmlText(reason))
				}
				for _, p := range s.Problems {
					want = append(want, p.Code)
					if p.Offset != nil {
						want = append(want, hex(*p.Offset))
					}
				}
				ranges := slices.Clone(s.Divergence.Ranges)
				if s.Repair != nil {
					for _, o := range s.Repair.Outputs {
						ranges = append(ranges, o.Ranges...)
					}
				}
				for _, rg := range ranges {
					want = append(want, hex(rg.VolumeOffset), strconv.FormatInt(rg.VolumeOffset, 10))
					if rg.SourceReason != "" {
						want = append(want, htmlText(rg.SourceReason))
					}
				}
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("page text lacks %q", w)
				}
			}
		})
	}
}

// hostile is a report whose every string field is hostile to an HTML page.
func hostile() *Report {
	const evil = "<script>alert(1)</script>\"'&amp;\x00\x01\x1b[31m\n\u202e</style><!-- ]]> -->\xff"
	p := func(s string) string { return "/evidence/" + s + evil + ".img" }
	a, b := p("a"), p("b")
	r := &Report{
		Schema:     Schema,
		Tool:       Tool{Name: "mirrorchk" + evil, Version: evil},
		Command:    []string{"mirrorchk", "scan", a, b, evil},
		Generated:  evil,
		SectorSize: 512,
		Sets: []Set{{
			ID: evil, Name: evil, Metadata: evil, Level: evil, Verdict: evil, DataSize: 4096, RaidDisks: 2,
			Members: []Member{
				{Path: a, Segments: []string{a + ".001"}, Hashes: map[string]string{evil: evil}, Role: evil, State: evil,
					Authoritative: true, Evidence: []string{evil}, PartitionTable: evil,
					Filesystems: []Filesystem{{Type: evil, Partition: &Partition{Index: 1, Type: evil, TypeName: evil}, Evidence: []string{evil}}}},
				{Path: b, Hashes: map[string]string{"sha256": evil}, Evidence: []string{}},
			},
			Authority: Authority{Member: &a, Basis: evil, Reasons: []string{evil, "second " + evil}},
			Divergence: Divergence{Bytes: 512, RangesTotal: 2, Ranges: []Range{{
				VolumeOffset: 0x200, Length: 512, Agree: [][]string{{a}, {b, evil}}, Source: &b,
				SourceBasis: evil, SourceReason: evil,
				Owner:  &Owner{FS: evil, Structure: evil, Path: evil},
				Owners: []MemberOwner{{Member: a, Owner: Owner{FS: evil, Structure: evil, Path: evil}}, {Member: evil}},
			}}},
			Files:    []File{{Path: evil, FS: evil, Bytes: 512, Structures: []string{evil}}},
			Bitmap:   &Bitmap{Member: evil, Uncovered: []int64{0x200}},
			Problems: []Problem{{Code: evil, Severity: evil, Member: evil, Message: evil}},
			Repair: &Repair{Status: evil, Reason: evil, Source: &a, Outputs: []RepairOutput{{
				Member: b, Path: evil, Hashes: map[string]string{evil: evil}, DataSHA256: evil, MetadataChanges: []string{evil},
			}}},
		}},
		Problems: []Problem{{Code: evil, Severity: evil, Member: evil, Message: evil}},
	}
	return r
}

func TestHTMLHostile(t *testing.T) {
	r := hostile()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	low := strings.ToLower(out)
	for _, bad := range []string{"<script", "<!--", "]]>", "\x00", "\x1b", "\u202e"} {
		if i := strings.Index(low, bad); i >= 0 {
			t.Errorf("output contains %q at byte %d: %q", bad, i, out[max(0, i-40):min(len(out), i+40)])
		}
	}
	// The style sheet ends once: no string closed it early.
	if n := strings.Count(low, "</style"); n != 1 {
		t.Errorf("output has %d </style tags, want 1", n)
	}
	doc := checkHTMLWellFormed(t, buf.Bytes())
	// The hostile text is shown, escaped, not dropped: a reader sees the
	// characters, with the unprintable ones as Go escapes.
	shown := htmlText("<script>alert(1)</script>\"'&amp;\x00\x01\x1b[31m\n\u202e</style><!-- ]]> -->\xff")
	if want := `<script>alert(1)</script>"'&amp;\x00\x01\x1b[31m\n\u202e</style><!-- ]]> -->\xff`; shown != want {
		t.Fatalf("htmlText = %q, want %q", shown, want)
	}
	if n := strings.Count(doc.text.String(), shown); n < 20 {
		t.Errorf("the hostile string appears %d times in the page text, want every field", n)
	}
	if !strings.Contains(doc.text.String(), strconv.Quote(r.Sets[0].Members[0].Path)) {
		t.Errorf("the hostile member path is not shown Go-quoted")
	}
}

// TestHTMLEscaping checks which characters are kept and which escaped.
func TestHTMLEscaping(t *testing.T) {
	tests := []struct {
		f        func(string) string
		name, in string
		want     string
	}{
		{htmlText, "htmlText", "plain", "plain"},
		{htmlText, "htmlText", "caf\u00e9 \"x\" \\", "caf\u00e9 \"x\" \\"},
		{htmlText, "htmlText", "a\nb\tc", `a\nb\tc`},
		{htmlText, "htmlText", "bad\xff", `bad\xff`},
		{htmlText, "htmlText", "rl\u202eo", `rl\u202eo`},
		{htmlText, "htmlText", "nb\u00a0sp", `nb\u00a0sp`},
		{htmlText, "htmlText", "\ufffd", "\ufffd"},
		{htmlPath, "htmlPath", "/x/d\u00edsk&2.img", "/x/d\u00edsk&2.img"},
		{htmlPath, "htmlPath", "/x/m0\n.img", `"/x/m0\n.img"`},
		{htmlPath, "htmlPath", `"quoted".img`, `"\"quoted\".img"`},
		{htmlPath, "htmlPath", "/x/\xfe.img", `"/x/\xfe.img"`},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	if got, want := htmlCommand([]string{"mirrorchk", "scan", "d\u00edsk 1.img", "it's", "x\ty"}),
		`mirrorchk scan 'd`+"\u00ed"+`sk 1.img' 'it'\''s' "x\ty"`; got != want {
		t.Errorf("htmlCommand = %q, want %q", got, want)
	}
}

func TestWriteHTMLSparse(t *testing.T) {
	for _, r := range []*Report{sparse(), {}} {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, r); err != nil {
			t.Fatal(err)
		}
		checkHTMLWellFormed(t, buf.Bytes())
	}
	if err := WriteHTML(&bytes.Buffer{}, nil); err == nil {
		t.Errorf("WriteHTML(nil) succeeded")
	}
	if err := WriteHTML(failWriter{}, clean()); err == nil {
		t.Errorf("WriteHTML to a failing writer succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("write failed") }

// htmlDoc is what checkHTMLWellFormed found in a page.
type htmlDoc struct {
	text  strings.Builder // character data outside <style> and <title>
	ids   map[string]bool
	hrefs map[string]bool
}

// htmlElements are the elements a page may hold: no script, no external
// resources, no forms or frames.
var htmlElements = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true,
	"header": true, "footer": true, "section": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"p": true, "div": true, "span": true, "strong": true, "a": true, "br": true,
	"dl": true, "dt": true, "dd": true, "ul": true, "li": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
	"svg": true, "rect": true, // the sector map: shapes and their <title>, nothing that loads or runs
}

// checkHTMLWellFormed parses page as strict XML, which also checks that
// every tag is closed in order, and checks that it is valid UTF-8 with a
// single root, only the elements in htmlElements, no event-handler
// attributes, and links only within the page.
func checkHTMLWellFormed(t *testing.T, page []byte) *htmlDoc {
	t.Helper()
	doc := &htmlDoc{ids: map[string]bool{}, hrefs: map[string]bool{}}
	if !utf8.Valid(page) {
		t.Errorf("page is not valid UTF-8")
	}
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n")) {
		t.Errorf("page does not start with <!DOCTYPE html>")
	}
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	var stack []string
	roots := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v (open elements %v)", err, stack)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			if len(stack) == 0 {
				roots++
			}
			if !htmlElements[name] || tok.Name.Space != "" {
				t.Errorf("unexpected element <%s>", name)
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Name.Local)
				switch {
				case strings.HasPrefix(key, "on"), key == "src", key == "style", a.Name.Space != "":
					t.Errorf("<%s> has attribute %s=%q", name, key, a.Value)
				case key == "href":
					if !strings.HasPrefix(a.Value, "#") {
						t.Errorf("link out of the page: %q", a.Value)
					}
					doc.hrefs[a.Value] = true
				case key == "id":
					if doc.ids[a.Value] {
						t.Errorf("duplicate id %q", a.Value)
					}
					doc.ids[a.Value] = true
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && (stack[len(stack)-1] == "style" || stack[len(stack)-1] == "title") {
				continue
			}
			doc.text.Write(tok)
		}
	}
	if roots != 1 || len(stack) != 0 {
		t.Errorf("page has %d root elements and %d unclosed", roots, len(stack))
	}
	return doc
}
