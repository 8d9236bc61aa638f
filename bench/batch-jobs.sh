#!/usr/bin/env bash
# batch-jobs.sh: does --jobs speed up a batch of many small sets?
#
# Usage: bench/batch-jobs.sh [DIR]
#
# Makes 40 small sets in DIR (default: a new temporary directory, removed at
# the end): 40 bare FAT16 disks of SIZE_MIB (default 16) made by mkfs.fat
# with distinct volume IDs and a few files written by mtools, each with a
# copy in which a few sectors differ, so 80 images that mirrorchk groups
# into 40 pairs by their filesystem identity. Builds mirrorchk and times
#
#   mirrorchk scan --quiet --jobs 1 DIR
#   mirrorchk scan --quiet --jobs 2 DIR
#
# once with --hash sha256 (the default: each pair's two images are already
# hashed on two cores within the set) and once with --hash none (the diff,
# the filesystem reads and checks, one core per set), each RUNS times
# (default 5) after a warm-up read, keeping the fastest wall time, and
# prints the speed-up and the peak RSS of each. The load average is
# printed too: on a shared machine the numbers mean little under load.
#
# Environment: RUNS, SIZE_MIB, SETS (default 40), GO (default go).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-5}
size_mib=${SIZE_MIB:-16}
sets=${SETS:-40}
go=${GO:-go}

for t in mkfs.fat mcopy /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "$t is needed (apt-get install -y dosfstools mtools time)" >&2; exit 1; }
done
if [[ $# -gt 0 ]]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
bin=$dir/mirrorchk
(cd "$repo" && "$go" build -o "$bin" .)
mkdir -p "$dir/evidence"
for i in $(seq -w 1 "$sets"); do
	a=$dir/evidence/set$i-a.img b=$dir/evidence/set$i-b.img
	[[ -f $b ]] && continue
	mkfs.fat -C -F 16 -i "$(printf 'A%07X' "$((10#$i))")" -n "SET$i" "$a" $((size_mib * 1024)) >/dev/null
	head -c 200000 /dev/urandom >"$dir/f.bin"
	mcopy -i "$a" "$dir/f.bin" ::/data.bin
	cp "$a" "$b"
	printf 'changed' | dd of="$b" bs=1 seek=$((size_mib * 1024 * 1024 / 2)) conv=notrunc status=none
done
cat "$dir"/evidence/*.img >/dev/null # warm the page cache

run() { # jobs → "wall rss"
	local best="" rss=""
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$dir/t" "$bin" scan --quiet --hash "$2" --jobs "$1" "$dir/evidence" || [[ $? -lt 16 ]]
		read -r w m < <(tail -n 1 "$dir/t")
		if [[ -z $best ]] || awk -v a="$w" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$w rss=$m; fi
	done
	echo "$best $rss"
}
printf 'sets %d of 2 x %d MiB, %d CPUs, best of %d; load average %s\n' "$sets" "$size_mib" "$(nproc)" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
for hash in sha256 none; do
	read -r w1 r1 < <(run 1 "$hash")
	read -r w2 r2 < <(run 2 "$hash")
	printf '  --hash %-6s --jobs 1: %6.2f s  peak RSS %5.1f MiB\n' "$hash" "$w1" "$(echo "$r1/1024" | bc -l)"
	printf '  --hash %-6s --jobs 2: %6.2f s  peak RSS %5.1f MiB   speed-up %.2fx\n' "$hash" "$w2" "$(echo "$r2/1024" | bc -l)" "$(echo "$w1/$w2" | bc -l)"
done
