#!/bin/sh
# mkseeds.sh: makes the small real qcow2 files that seed FuzzQCOW2, from a
# 64 KiB FAT12 image with one text file. Run it here; commit the outputs.
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkfs.fat -C "$t/raw.img" 64 >/dev/null
seq 1 400 >"$t/numbers.txt"
mcopy -i "$t/raw.img" "$t/numbers.txt" ::/
q() { qemu-img convert -f raw -O qcow2 "$@"; }
q -o cluster_size=512 "$t/raw.img" c512.qcow2
q -o compat=0.10,cluster_size=512 "$t/raw.img" v2-c512.qcow2
q -c -o cluster_size=4096 "$t/raw.img" deflate-c4k.qcow2
q -c -o cluster_size=4096,compression_type=zstd "$t/raw.img" zstd-c4k.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 -b c512.qcow2 -F qcow2 overlay-c512.qcow2
qemu-io -f qcow2 -c 'write -P 0xab 4096 1024' -c 'write -z 16384 1024' overlay-c512.qcow2 >/dev/null
ls -l *.qcow2
