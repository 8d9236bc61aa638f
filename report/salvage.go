package report

import "fmt"

// The failing-disk part of a set's report, shared by the text and HTML
// renderers: what each member could not read, what a repair recovers from
// another member, and what is lost, file by file.

// salvageLines are the set's unreadable, recovered and lost summaries, in
// words; none when nothing was unreadable.
func salvageLines(s *Set, names func(string) string) []string {
	var out []string
	for _, m := range s.Members {
		u := m.Unreadable
		if u.Bytes == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %s unreadable in %s", names(m.Path), sizeText(u.Bytes), count(u.Ranges, "range", "ranges"))
		if u.DeclaredBy != "" {
			line += " (declared by " + u.DeclaredBy + ")"
		}
		if u.ReadErrorBytes > 0 {
			line += fmt.Sprintf(", %s by read errors", sizeText(u.ReadErrorBytes))
		}
		out = append(out, line)
	}
	if s.RecoveredRanges > 0 {
		out = append(out, fmt.Sprintf("recovered: %s in %s, each taken from a member that read it and whose copy the evidence vouches for",
			sizeText(s.RecoveredBytes), count(s.RecoveredRanges, "range", "ranges")))
	}
	if s.LostRanges > 0 {
		out = append(out, fmt.Sprintf("LOST: %s in %s: no member holds a copy the evidence vouches for",
			sizeText(s.LostBytes), count(s.LostRanges, "range", "ranges")))
	}
	return out
}

// lostFiles are the files and structures with lost data, one line each.
func lostFiles(s *Set) []string {
	var out []string
	for _, f := range s.FilesWithLostData {
		name := f.Path
		if name == "" {
			name = "-"
		}
		line := fmt.Sprintf("%s  %s", count(f.Bytes, "byte", "bytes"), name)
		if len(f.Structures) > 0 {
			line += fmt.Sprintf(" (%s)", joinComma(f.Structures))
		}
		out = append(out, line)
	}
	return out
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
