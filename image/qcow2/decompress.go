package qcow2

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

var flatePool sync.Pool // io.ReadCloser implementing flate.Resetter

// inflate decompresses the raw deflate stream in (compression type 0; no
// zlib header) into exactly len(out) bytes. Bytes of in after the end of
// the output may belong to the next compressed cluster and are ignored.
func inflate(out, in []byte) error {
	br := bytes.NewReader(in)
	fr, _ := flatePool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(br)
	} else if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
		return err
	}
	defer flatePool.Put(fr)
	_, err := io.ReadFull(fr, out)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

var zstdPool sync.Pool // *zstd.Decoder, synchronous (concurrency 1)

// unzstd decompresses the zstd frame in (compression type 1) into exactly
// len(out) bytes, ignoring what follows.
func unzstd(out, in []byte) error {
	br := bytes.NewReader(in)
	zr, _ := zstdPool.Get().(*zstd.Decoder)
	if zr == nil {
		var err error
		zr, err = zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderMaxMemory(16<<20))
		if err != nil {
			return err
		}
	} else if err := zr.Reset(br); err != nil {
		return err
	}
	defer zstdPool.Put(zr)
	_, err := io.ReadFull(zr, out)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
