#!/usr/bin/env bash
# mkseeds.sh: how the small real segment files in this directory were made
# (ewf-tools 20140813, dosfstools, mtools on Debian 12). They are the seeds
# of FuzzEWF and, for error2.E01, the only fixture with an error2 section:
# ewfacquire writes one only when reading a *device* fails, which a test
# cannot arrange portably. Here a read-only loop device is read through
# eio.c, an LD_PRELOAD shim that fails read(2) with EIO for byte ranges,
# so error2.E01 is what ewfacquire really writes (nothing edited).
#
# Needs root (losetup), gcc. Run from this directory: ./mkseeds.sh
set -euo pipefail
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkfs.fat -C "$t/tiny.img" 64 >/dev/null
printf 'hello mirrorchk\n' >"$t/hello.txt"
seq 1 200 >"$t/seq.txt"
mcopy -i "$t/tiny.img" "$t/hello.txt" "$t/seq.txt" ::/
head -c 4096 "$t/tiny.img" >"$t/tiny4.img"
meta=(-C C-1 -E EV-1 -e Examiner -D Desc -N Notes)
ewfacquire -u -q -t best -c best -b 16 "${meta[@]}" "$t/tiny.img" >/dev/null
ewfacquire -u -q -t smart -f smart -c best -b 16 "$t/tiny.img" >/dev/null
ewfacquire -u -q -t encase1 -f encase1 -c best -b 16 "$t/tiny.img" >/dev/null
ewfacquire -u -q -t none -c none -b 16 "$t/tiny4.img" >/dev/null
gcc -shared -fPIC -o "$t/eio.so" eio.c -ldl
loop=$(losetup -f --show -r "$t/tiny.img")
# sector 64 (byte 32768) fails: with -g 16 ewfacquire records sectors 64-79
EIO_FILE=$loop EIO_RANGE=32768-33280 LD_PRELOAD=$t/eio.so \
	ewfacquire -u -q -t error2 -c best -b 16 -g 16 -r 0 -d sha1 "${meta[@]}" "$loop" >/dev/null || true
losetup -d "$loop"
ls -l best.E01 smart.s01 encase1.E01 none.E01 error2.E01
