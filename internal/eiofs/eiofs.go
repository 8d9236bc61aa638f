// Package eiofs serves a file through FUSE that fails with EIO wherever a
// read meets one of the chosen ranges, as a failing disk does: tests scan
// it as a regular file and, through a loop device, as a block device. It
// is imported only by _test.go files.
package eiofs

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Range is a run of bytes that cannot be read.
type Range struct{ Off, Len int64 }

// file is the one file: backing bytes and bad ranges.
type file struct {
	fs.Inode
	back *os.File
	size int64
	bad  []Range
	eio  *atomic.Int64
	read *atomic.Int64
	slow time.Duration
}

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeReader    = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
)

func (f *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	// Direct I/O: every read reaches Read with the caller's offset and
	// size, no page cache or readahead in between.
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(f.size)
	return 0
}

func (f *file) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.read.Add(int64(len(dest)))
	if f.slow > 0 {
		time.Sleep(f.slow)
	}
	end := min(off+int64(len(dest)), f.size)
	for _, b := range f.bad {
		if b.Off < end && b.Off+b.Len > off {
			f.eio.Add(1)
			return nil, syscall.EIO
		}
	}
	if off >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	n, err := f.back.ReadAt(dest[:end-off], off)
	if err != nil && n < int(end-off) {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Disk is a mounted failing file.
type Disk struct {
	Path string        // the file to read
	EIO  *atomic.Int64 // reads that failed
	Read *atomic.Int64 // bytes asked for
}

// Serve mounts a FUSE filesystem holding one read-only file named name,
// with the bytes of the file backing, failing every read that meets a bad
// range with EIO. It is unmounted when the test ends.
func Serve(t testing.TB, backing, name string, bad []Range) *Disk {
	return ServeSlow(t, backing, name, bad, 0)
}

// ServeSlow is Serve with every read taking at least slow: a slow disk.
func ServeSlow(t testing.TB, backing, name string, bad []Range, slow time.Duration) *Disk {
	t.Helper()
	back, err := os.Open(backing)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := back.Stat()
	if err != nil {
		t.Fatal(err)
	}
	eio, read := &atomic.Int64{}, &atomic.Int64{}
	root := &fs.Inode{}
	f := &file{back: back, size: fi.Size(), bad: bad, eio: eio, read: read, slow: slow}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	server, err := fs.Mount(mnt, &rootNode{Inode: root, name: name, f: f}, &fs.Options{
		MountOptions: fuse.MountOptions{FsName: "eiofs", Name: "eiofs", DisableXAttrs: true, AllowOther: true},
	})
	if err != nil {
		back.Close()
		t.Fatalf("FUSE mount (needs /dev/fuse and fuse3): %v", err)
	}
	t.Cleanup(func() {
		server.Unmount()
		back.Close()
	})
	return &Disk{Path: filepath.Join(mnt, name), EIO: eio, Read: read}
}

type rootNode struct {
	*fs.Inode
	name string
	f    *file
}

func (r *rootNode) EmbeddedInode() *fs.Inode { return r.Inode }

var _ fs.NodeOnAdder = (*rootNode)(nil)

func (r *rootNode) OnAdd(ctx context.Context) {
	ch := r.NewPersistentInode(ctx, r.f, fs.StableAttr{Mode: syscall.S_IFREG, Ino: 2})
	r.AddChild(r.name, ch, false)
}
