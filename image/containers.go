package image

import (
	"encoding/hex"
	"io"
	"time"

	"github.com/mirrorchk/mirrorchk/image/ewf"
	"github.com/mirrorchk/mirrorchk/image/qcow2"
	"github.com/mirrorchk/mirrorchk/image/vhd"
	"github.com/mirrorchk/mirrorchk/image/vhdx"
	"github.com/mirrorchk/mirrorchk/image/vmdk"
)

// opener opens another file a container names, relative to the first.
type opener = func(name string) (io.ReaderAt, int64, error)

// containers are the container formats read, in the order their Detect
// functions are tried: formats with a magic at offset 0 first, VHD (whose
// fixed variant has its only footer at the end) last. One entry per reader
// package under image/.
var containers = []container{
	{"E01", ewf.Detect, openEWF},
	{"VHDX", vhdx.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := vhdx.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
	{"qcow2", qcow2.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := qcow2.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
	{"VMDK", vmdk.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := vmdk.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
	{"VHD", vhd.Detect, func(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
		d, err := vhd.Open(r, size, name, op)
		if err != nil {
			return nil, Info{}, err
		}
		return d, Info{}, nil
	}},
}

// openEWF reads an EWF segment set with its stored hashes, acquisition
// metadata and the ranges its acquisition could not read.
func openEWF(r io.ReaderAt, size int64, name string, op opener) (Disk, Info, error) {
	d, err := ewf.Open(r, size, name, op)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{StoredHashes: map[string]string{}}
	md5, sha1 := d.StoredHashes()
	if md5 != nil {
		info.StoredHashes["md5"] = hex.EncodeToString(md5)
	}
	if sha1 != nil {
		info.StoredHashes["sha1"] = hex.EncodeToString(sha1)
	}
	if h, ok := d.Header(); ok {
		date := func(raw string, t time.Time) string {
			switch {
			case t.IsZero():
				return raw
			case h.LocalTime:
				return t.Format("2006-01-02 15:04:05") + " (acquiring machine's local time)"
			}
			return t.UTC().Format(time.RFC3339)
		}
		for _, kv := range []KV{
			{"case number", h.CaseNumber}, {"evidence number", h.EvidenceNumber},
			{"description", h.Description}, {"examiner", h.Examiner}, {"notes", h.Notes},
			{"acquisition date", date(h.AcquisitionDate, h.Acquired)}, {"system date", date(h.SystemDate, h.System)},
			{"acquiring software version", h.SoftwareVersion}, {"acquisition OS", h.OS},
			{"media model", h.Model}, {"media serial number", h.SerialNumber}, {"device label", h.DeviceLabel},
			{"metadata section", h.Source},
		} {
			if kv.Value != "" {
				info.Acquisition = append(info.Acquisition, kv)
			}
		}
	}
	for _, u := range d.Unreadable() {
		info.Unreadable = append(info.Unreadable, Range{Off: u.Off, Len: u.Len})
	}
	return d, info, nil
}
