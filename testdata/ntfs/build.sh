#!/bin/sh
# Rebuilds the NTFS fixtures of testdata/ntfs. Needs root, FUSE, ntfs-3g,
# zstd, xz-utils. Run from this directory: sh build.sh
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
mnt=$work/mnt
pat() { yes "mirrorchk $1" | head -c "$2"; }
mkdir -p "$mnt"
trap 'umount "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

# small.img: 64 MiB, 1 KiB clusters, nested dirs, resident files,
# fragmented, sparse and heavily fragmented (attribute list) files.
img=$work/small.img
truncate -s 64M "$img"
mkntfs -F -f -q 2>/dev/null -c 1024 -L small "$img"
ntfs-3g "$img" "$mnt"
mkdir -p "$mnt/dir1/sub/deeper" "$mnt/dir2"
echo hello > "$mnt/tiny.txt"
echo nested > "$mnt/dir1/sub/deeper/resident.txt"
for i in $(seq 1 20); do
	pat f$i $((3000 * i)) > "$mnt/dir1/f$i.bin"
done
# Sparse file: data at a few offsets, holes between.
f=$mnt/dir2/sparse.bin
truncate -s 8M "$f"
printf 'begin' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
pat sparse 20000 | dd of="$f" bs=1024 seek=3000 conv=notrunc status=none
printf 'end' | dd of="$f" bs=1 seek=$((8 * 1024 * 1024 - 3)) conv=notrunc status=none
# Interleaved writes: two files growing in turns are fragmented.
for i in $(seq 1 30); do
	pat a$i 4096 >> "$mnt/dir2/a.bin"
	pat b$i 4096 >> "$mnt/dir2/b.bin"
done
# Attribute list: 400 one-cluster pieces with holes between; the 800 runs
# (data and sparse) do not fit one 1 KiB record, so ntfs-3g moves $DATA
# pieces and $FILE_NAME to extension records listed by a (non-resident)
# $ATTRIBUTE_LIST.
mkdir "$mnt/frag"
f=$mnt/frag/many.bin
truncate -s 800K "$f"
for i in $(seq 0 399); do
	pat m$i 1024 | dd of="$f" bs=1024 seek=$((2 * i)) conv=notrunc status=none
done
umount "$mnt"
zstd -q -19 -f "$img" -o small.img.zst

# big10k.img: 512 MiB, 4 KiB clusters, 100 dirs x 100 small files.
img=$work/big10k.img
truncate -s 512M "$img"
mkntfs -F -f -q 2>/dev/null -c 4096 -L big10k "$img"
ntfs-3g "$img" "$mnt"
for d in $(seq 0 99); do
	mkdir "$mnt/d$d"
	for i in $(seq 0 99); do
		head -c $(( (d * 100 + i) * 7 % 9000 )) /dev/zero > "$mnt/d$d/f$i"
	done
done
umount "$mnt"
zstd -q -19 -f "$img" -o big10k.img.zst

# win2008r2-mirror.img: the 16 MiB NTFS volume Windows Server 2008 R2
# formatted on the mirrored LDM volume (Volume3); plex 1 starts at byte
# 0x10000 of ldm-2008r2-mirrored-1.img (sector 128), plex 2 at 0x2010000
# of ldm-2008r2-mirrored-2.img (sector 65664). Both halves are identical.
tar -xJf ../ldm/ldm-2008r2.tar.xz -C "$work" ldm-2008r2-mirrored-1.img ldm-2008r2-mirrored-2.img
dd if="$work/ldm-2008r2-mirrored-1.img" of="$work/win2008r2-mirror.img" bs=512 skip=128 count=32768 status=none
dd if="$work/ldm-2008r2-mirrored-2.img" of="$work/plex2.img" bs=512 skip=65664 count=32768 status=none
cmp "$work/win2008r2-mirror.img" "$work/plex2.img"
zstd -q -19 -f "$work/win2008r2-mirror.img" -o win2008r2-mirror.img.zst
