package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
)

// DFXML namespaces (DFXML 1.x, as fiwalk and the Sleuth Kit write it).
const (
	dfxmlNS     = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
	dcNS        = "http://purl.org/dc/elements/1.1/"
	mirrorchkNS = "https://github.com/mirrorchk/mirrorchk/dfxml/1"
)

// WriteDFXML writes rep as Digital Forensics XML: <metadata>, a <creator>
// with the program, its version and build, and the execution environment
// (host, user, command line, working directory, start and end time); one
// <source> per input image file with its size and hashes; and for every
// listed differing range of every set one <fileobject> per member, naming
// the owning file (or structure) where known, with one <byte_run> giving
// the range's img_offset and len in that member's image. mirrorchk's own
// facts (the set, the verdict, the member) are attributes in its own
// namespace. Apart from the times, the output is byte-identical between
// runs over the same inputs.
func WriteDFXML(w io.Writer, rep *Report) error {
	bw := bufio.NewWriter(w)
	x := &xw{w: bw}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(fmt.Sprintf(`<dfxml version="1.2.0" xmlns="%s" xmlns:dc="%s" xmlns:mirrorchk="%s">`+"\n", dfxmlNS, dcNS, mirrorchkNS))
	x.raw("  <metadata>\n")
	x.el(4, "dc:type", "Mirror member comparison")
	x.el(4, "mirrorchk:schema", rep.Schema)
	if rep.Plan != "" {
		x.el(4, "mirrorchk:plan", rep.Plan)
	}
	if rep.Shard != "" {
		x.el(4, "mirrorchk:shard", rep.Shard)
	}
	x.raw("  </metadata>\n")
	x.raw("  <creator version=\"1.0\">\n")
	x.el(4, "program", rep.Tool.Name)
	x.el(4, "version", rep.Tool.Version)
	if p := rep.Provenance; p != nil {
		x.raw("    <build_environment>\n")
		x.el(6, "compiler", p.GoVersion)
		x.el(6, "mirrorchk:revision", p.Revision)
		x.raw("    </build_environment>\n")
		x.raw("    <execution_environment>\n")
		x.el(6, "os_sysname", runtime.GOOS)
		x.el(6, "arch", runtime.GOARCH)
		x.el(6, "host", p.Host)
		x.el(6, "username", p.User)
		x.el(6, "command_line", strings.Join(p.Command, " "))
		x.el(6, "mirrorchk:cwd", p.Cwd)
		x.el(6, "start_time", p.Start)
		x.el(6, "end_time", p.End)
		x.raw("    </execution_environment>\n")
	} else {
		x.raw("    <execution_environment>\n")
		x.el(6, "command_line", strings.Join(rep.Command, " "))
		x.el(6, "start_time", rep.Generated)
		x.raw("    </execution_environment>\n")
	}
	x.raw("  </creator>\n")

	// One <source> per image file, each file once, in set order.
	seen := map[string]bool{}
	for _, s := range rep.Sets {
		for _, m := range s.Members {
			if seen[m.Path] {
				continue
			}
			seen[m.Path] = true
			x.raw(fmt.Sprintf("  <source mirrorchk:set=\"%s\">\n", attr(s.Key)))
			files := m.Segments
			if len(files) == 0 {
				files = []string{m.Path}
			}
			for _, f := range files {
				x.el(4, "image_filename", f)
			}
			x.el(4, "image_size", fmt.Sprint(m.Size))
			x.el(4, "sectorsize", fmt.Sprint(rep.SectorSize))
			algs := make([]string, 0, len(m.Hashes))
			for a := range m.Hashes {
				algs = append(algs, a)
			}
			sort.Strings(algs)
			for _, a := range algs {
				x.raw(fmt.Sprintf("    <hashdigest type=\"%s\">%s</hashdigest>\n", attr(a), xmlText(m.Hashes[a])))
			}
			x.raw("  </source>\n")
		}
	}
	for _, s := range rep.Sets {
		for _, r := range s.Divergence.Ranges {
			for _, m := range s.Members {
				o := r.Owner
				for i := range r.Owners {
					if r.Owners[i].Member == m.Path {
						o = &r.Owners[i].Owner
					}
				}
				x.raw(fmt.Sprintf("  <fileobject mirrorchk:set=\"%s\" mirrorchk:verdict=\"%s\" mirrorchk:image=\"%s\" mirrorchk:volume_offset=\"%d\">\n",
					attr(s.Key), attr(s.Verdict), attr(m.Path), r.VolumeOffset))
				if o != nil && o.Path != "" {
					x.el(4, "filename", o.Path)
				}
				if o != nil && o.Structure != "" {
					x.el(4, "mirrorchk:structure", o.Structure)
				}
				if o != nil && o.Record != nil {
					x.el(4, "inode", fmt.Sprint(*o.Record))
				}
				x.raw("    <byte_runs>\n")
				x.raw(fmt.Sprintf("      <byte_run img_offset=\"%d\" len=\"%d\"/>\n", m.DataOffset+r.VolumeOffset, r.Length))
				x.raw("    </byte_runs>\n")
				x.raw("  </fileobject>\n")
			}
		}
	}
	x.raw("</dfxml>\n")
	if x.err != nil {
		return x.err
	}
	return bw.Flush()
}

type xw struct {
	w   io.Writer
	err error
}

func (x *xw) raw(s string) {
	if x.err == nil {
		_, x.err = io.WriteString(x.w, s)
	}
}

func (x *xw) el(indent int, name, value string) {
	x.raw(fmt.Sprintf("%s<%s>%s</%s>\n", strings.Repeat(" ", indent), name, xmlText(value), name))
}

// xmlText escapes character data; characters XML 1.0 cannot hold (control
// characters in a file name) are written as U+FFFD by the escaper.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func attr(s string) string { return xmlText(s) }
