package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestJSONLRoundTrip: lines in key order with the plan index, a summary
// without sets, read back; a file cut short or with a line after the
// summary is refused.
func TestJSONLRoundTrip(t *testing.T) {
	code := 4
	rep := &Report{Schema: Schema, Tool: Tool{Name: "mirrorchk", Version: "t"}, Plan: "p1", Shard: "1/3", ExitCode: &code,
		Sets: []Set{{Key: "md:b", ID: "b"}, {Key: "md:a", ID: "a"}}, SetIndexes: []int{5, 9}, Problems: []Problem{}, Hives: []Input{}}
	var b bytes.Buffer
	if err := WriteJSONL(&b, rep); err != nil {
		t.Fatal(err)
	}
	lines, sum, err := ReadJSONL(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Set.Key != "md:a" || *lines[0].Index != 9 || *lines[1].Index != 5 || lines[0].Shard != "1/3" || lines[0].Plan != "p1" {
		t.Errorf("lines %+v", lines)
	}
	if sum.Report == nil || len(sum.Report.Sets) != 0 || *sum.Sets != 2 || *sum.Report.ExitCode != 4 {
		t.Errorf("summary %+v", sum)
	}
	if strings.Count(b.String(), "\n") != 3 {
		t.Errorf("not one line each:\n%s", b.String())
	}
	all := strings.SplitAfter(b.String(), "\n")
	for name, bad := range map[string]string{
		"no summary":         all[0] + all[1],
		"a set line missing": all[0] + all[2],
		"after the summary":  b.String() + all[0],
		"other schema":       strings.Replace(b.String(), JSONLSchema, "x/1", 1),
	} {
		if _, _, err := ReadJSONL(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
