#!/usr/bin/env bash
# batch-jobs-ntfs.sh: does --jobs speed up a batch whose sets cost CPU in
# one goroutine each (the filesystem read and interpretation)?
#
# Usage: bench/batch-jobs-ntfs.sh [DIR]
#
# Makes 40 bare NTFS pairs in DIR (default: a new temporary directory,
# removed at the end) from testdata/ntfs/big10k.img.zst (a 512 MiB sparse
# NTFS volume with 10,000 files made by mkntfs and ntfs-3g): each pair gets
# its own volume serial, and its second image 8 changed places in the
# volume. Then times, best of RUNS (default 3) after a warm-up,
#
#   mirrorchk scan --quiet --hash none --jobs 1 DIR
#   mirrorchk scan --quiet --hash none --jobs 2 DIR
#   mirrorchk scan --quiet --jobs 1 DIR  (and --jobs 2; sha256)
#
# With hashing, one set already keeps both cores busy (each member is
# hashed on its own core), so --jobs cannot add much; without it a set is
# the NTFS interpretation on one core, which --jobs runs side by side.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
sets=${SETS:-40}
for t in zstd xxd /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "$t is needed (apt-get install -y zstd xxd time)" >&2; exit 1; }
done
if [[ $# -gt 0 ]]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
bin=$dir/mirrorchk
(cd "$repo" && go build -o "$bin" .)
zstd -qdf "$repo/testdata/ntfs/big10k.img.zst" -o "$dir/big.img"
mkdir -p "$dir/evidence"
for i in $(seq -w 1 "$sets"); do
	a=$dir/evidence/n$i-a.img b=$dir/evidence/n$i-b.img
	[[ -f $b ]] && continue
	cp --sparse=always "$dir/big.img" "$a"
	# the NTFS volume serial (boot sector byte 72): one disk per pair
	printf '%08x' $((0x10000000 + 10#$i)) | xxd -r -p | dd of="$a" bs=1 seek=72 conv=notrunc status=none
	cp --sparse=always "$a" "$b"
	for k in 1 2 3 4 5 6 7 8; do
		printf 'XXXXXXXX' | dd of="$b" bs=1 seek=$((4194304 + k * 40960)) conv=notrunc status=none
	done
done
"$bin" scan --quiet --hash none "$dir/evidence" || true # warm the page cache

run() { # jobs hash → "wall rss"
	local best="" rss=""
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$dir/t" "$bin" scan --quiet --hash "$2" --jobs "$1" "$dir/evidence" || [[ $? -lt 16 ]]
		read -r w m < <(tail -n 1 "$dir/t")
		if [[ -z $best ]] || awk -v a="$w" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$w rss=$m; fi
	done
	echo "$best $rss"
}
printf 'sets %d NTFS pairs (512 MiB sparse, 10,000 files), %d CPUs, best of %d; load average %s\n' "$sets" "$(nproc)" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
for hash in none sha256; do
	read -r w1 r1 < <(run 1 "$hash")
	read -r w2 r2 < <(run 2 "$hash")
	printf '  --hash %-6s --jobs 1: %6.2f s  peak RSS %5.1f MiB\n' "$hash" "$w1" "$(echo "$r1/1024" | bc -l)"
	printf '  --hash %-6s --jobs 2: %6.2f s  peak RSS %5.1f MiB   speed-up %.2fx\n' "$hash" "$w2" "$(echo "$r2/1024" | bc -l)" "$(echo "$w1/$w2" | bc -l)"
done
