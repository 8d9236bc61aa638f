package repair

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// hashes feeds every write to several hash algorithms at once.
type hashes struct {
	names []string
	hs    []hash.Hash
}

func newHashes(algs []string) (*hashes, error) {
	h := &hashes{}
	for _, a := range algs {
		var x hash.Hash
		switch a {
		case "sha256":
			x = sha256.New()
		case "sha1":
			x = sha1.New()
		case "md5":
			x = md5.New()
		default:
			return nil, fmt.Errorf("unknown hash algorithm %q", a)
		}
		h.names = append(h.names, a)
		h.hs = append(h.hs, x)
	}
	return h, nil
}

func (h *hashes) Write(p []byte) {
	for _, x := range h.hs {
		x.Write(p)
	}
}

func (h *hashes) Sums() map[string]string {
	m := make(map[string]string, len(h.hs))
	for i, x := range h.hs {
		m[h.names[i]] = hex.EncodeToString(x.Sum(nil))
	}
	return m
}
