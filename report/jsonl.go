package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// JSONLSchema is the value of Line.Schema.
const JSONLSchema = "mirrorchk.jsonl/1"

// Line is one line of a JSONL report: a set, or the summary that ends the
// file. Every line names the plan and the shard it belongs to.
type Line struct {
	Schema string `json:"schema"`
	Type   string `json:"type"` // "set" or "summary"
	Plan   string `json:"plan"`
	Shard  string `json:"shard"` // "I/N"; "0/1" for an unsharded run
	Tool   Tool   `json:"tool"`
	// Index is the set's position in the plan (the order of the JSON
	// report's sets); set lines only.
	Index *int `json:"index,omitempty"`
	Set   *Set `json:"set,omitempty"`
	// Sets is the number of set lines before the summary; Report is the
	// run's report without its sets. Summary line only.
	Sets   *int    `json:"sets,omitempty"`
	Report *Report `json:"report,omitempty"`
}

// WriteJSONL writes rep as JSON lines: one line per set, ordered by set
// key, then one summary line holding the report without its sets. Each
// line is compact JSON ending in "\n". A set line holds no time, so set
// lines are byte-identical between runs over the same inputs.
func WriteJSONL(w io.Writer, rep *Report) error {
	bw := bufio.NewWriter(w)
	order := make([]int, len(rep.Sets))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rep.Sets[order[a]].Key < rep.Sets[order[b]].Key })
	for _, i := range order {
		idx := i
		if i < len(rep.SetIndexes) {
			idx = rep.SetIndexes[i]
		}
		if err := WriteSetLine(bw, rep, idx, &rep.Sets[i]); err != nil {
			return err
		}
	}
	if err := WriteSummaryLine(bw, rep, len(rep.Sets)); err != nil {
		return err
	}
	return bw.Flush()
}

func lineShard(rep *Report) string {
	if rep.Shard == "" {
		return "0/1"
	}
	return rep.Shard
}

// WriteSetLine writes the line of one set: s, at position index of the
// plan, with the plan, shard and tool of rep (whose sets are not read).
// A caller streaming sets writes them in key order, then the summary.
func WriteSetLine(w io.Writer, rep *Report, index int, s *Set) error {
	return writeLine(w, &Line{Schema: JSONLSchema, Type: "set", Plan: rep.Plan, Shard: lineShard(rep), Tool: rep.Tool, Index: &index, Set: s})
}

// WriteSummaryLine writes the summary line after n set lines: rep without
// its sets.
func WriteSummaryLine(w io.Writer, rep *Report, n int) error {
	sum := *rep
	sum.Sets = []Set{}
	sum.SetIndexes = nil
	return writeLine(w, &Line{Schema: JSONLSchema, Type: "summary", Plan: rep.Plan, Shard: lineShard(rep), Tool: rep.Tool, Sets: &n, Report: &sum})
}

func writeLine(w io.Writer, l *Line) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// maxLine bounds one JSONL line read back (a set with the default range
// limit is a few MiB at most).
const maxLine = 256 << 20

// ReadJSONL reads a JSONL report: its set lines, in file order, and its
// summary. It refuses a file without a summary line, or with lines after
// it, or whose number of set lines differs from the summary's count.
func ReadJSONL(r io.Reader) (sets []Line, summary *Line, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		if l.Schema != JSONLSchema {
			return nil, nil, fmt.Errorf("line %d: schema %q, want %q", n, l.Schema, JSONLSchema)
		}
		if summary != nil {
			return nil, nil, fmt.Errorf("line %d: a line after the summary", n)
		}
		switch l.Type {
		case "set":
			if l.Set == nil || l.Index == nil {
				return nil, nil, fmt.Errorf("line %d: a set line without its set or index", n)
			}
			sets = append(sets, l)
		case "summary":
			if l.Report == nil || l.Sets == nil {
				return nil, nil, fmt.Errorf("line %d: a summary line without its report", n)
			}
			summary = &l
		default:
			return nil, nil, fmt.Errorf("line %d: unknown type %q", n, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	if summary == nil {
		return nil, nil, fmt.Errorf("no summary line: the output is incomplete")
	}
	if *summary.Sets != len(sets) {
		return nil, nil, fmt.Errorf("%d set lines, but the summary counts %d: the output is incomplete", len(sets), *summary.Sets)
	}
	return sets, summary, nil
}
