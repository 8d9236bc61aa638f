package report

import (
	"fmt"
	"strings"
)

// The text and HTML reports show what a member was read from in one line,
// and the verification of the hashes its container stores in another.

// containerLine is "E01, 3 files (12.1 MiB), media 64.0 MiB" for a
// container or split raw set; "" for a plain raw file. esc quotes paths
// and text for the renderer.
func containerLine(c *Container) string {
	if c == nil {
		return ""
	}
	var total int64
	for _, f := range c.Files {
		total += f.Size
	}
	files := "1 file"
	if len(c.Files) != 1 {
		files = fmt.Sprintf("%d files", len(c.Files))
	}
	return fmt.Sprintf("%s, %s (%s), media %s", c.Format, files, sizeText(total), sizeText(c.VirtualSize))
}

// verificationLine is "MD5 verified, SHA-1 verified" or says a mismatch
// with both values; "no stored hashes" when the container keeps none.
func verificationLine(c *Container) string {
	if c == nil {
		return ""
	}
	if len(c.StoredHashes) == 0 {
		return "no stored hashes (the format keeps none, or the acquisition wrote none)"
	}
	var parts []string
	for _, h := range c.StoredHashes {
		alg := map[string]string{"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}[h.Algorithm]
		if alg == "" {
			alg = h.Algorithm
		}
		switch h.Status {
		case "verified":
			parts = append(parts, alg+" verified")
		case "mismatch":
			parts = append(parts, fmt.Sprintf("%s MISMATCH (stored %s, media read %s)", alg, h.Stored, h.Computed))
		default:
			parts = append(parts, alg+" not verified (not computed: --hash none)")
		}
	}
	return strings.Join(parts, ", ")
}

// acquisitionLine joins the container's case metadata.
func acquisitionLine(c *Container) string {
	if c == nil || len(c.Acquisition) == 0 {
		return ""
	}
	var parts []string
	for _, kv := range c.Acquisition {
		parts = append(parts, kv.Key+": "+kv.Value)
	}
	return strings.Join(parts, "; ")
}
