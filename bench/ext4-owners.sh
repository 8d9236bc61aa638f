#!/usr/bin/env bash
# ext4-owners.sh: how fast does mirrorchk's ext4 reader name the owners of
# 1,000 differing blocks, next to debugfs icheck + ncheck on the same blocks?
#
# Usage: bench/ext4-owners.sh [DIR]
#
# DIR (default: a new temporary directory, removed at the end) receives the
# benchmark's filesystem: a 512 MiB sparse ext4 with 1 KiB blocks made by
# mkfs.ext4 -d from a generated tree of 100,000 files in 1,000 directories,
# and the list of 1,000 blocks (the fs/ext4 benchmark builds both, once; an
# existing DIR/big.img and DIR/blocks are reused). It then times, on the
# same image and blocks, from the page cache:
#
#   BenchmarkOwners1000   Open + Owners of each block, paths included
#                         (go test -bench, ns/op of RUNS iterations)
#   debugfs -R "icheck BLOCKS"            block -> inode
#   debugfs -R "ncheck INODES"            inode -> path, for the inodes found
#
# Each debugfs pair runs RUNS times (default 3) and the fastest wall time is
# kept; the ratio is debugfs time / mirrorchk time (above 1: mirrorchk is
# faster). Environment: RUNS (default 3), GO (default go).
set -euo pipefail

runs=${RUNS:-3}
go=${GO:-go}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-}
if [ -z "$dir" ]; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

(cd "$here" && "$go" test -c -o "$dir/ext4.test" ./fs/ext4)
# Build the image and block list once (reused when present).
(cd "$here/fs/ext4" && EXT4_BENCH_KEEP="$dir" "$dir/ext4.test" -test.run '^$' -test.bench 'Owners1000$' -test.benchtime 1x >/dev/null)
cat "$dir/big.img" >/dev/null # warm the page cache

ours=$(cd "$here/fs/ext4" && EXT4_BENCH_KEEP="$dir" "$dir/ext4.test" -test.run '^$' -test.bench 'Owners1000$' -test.benchtime "${runs}x" -test.benchmem |
	awk '/^BenchmarkOwners1000/ { for (i = 1; i <= NF; i++) if ($i == "ns/op") print $(i-1) }')

blocks=$(cat "$dir/blocks")
best=""
for _ in $(seq "$runs"); do
	start=$(date +%s%N)
	debugfs -R "icheck $blocks" "$dir/big.img" >"$dir/icheck.out" 2>/dev/null
	inodes=$(awk 'NR > 1 && $2 ~ /^[0-9]+$/ { print $2 }' "$dir/icheck.out" | sort -un | tr '\n' ' ')
	debugfs -R "ncheck $inodes" "$dir/big.img" >"$dir/ncheck.out" 2>/dev/null
	t=$(($(date +%s%N) - start))
	if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done

found=$(awk 'NR > 1 && $2 ~ /^[0-9]+$/' "$dir/icheck.out" | wc -l)
echo "blocks: 1000 ($found owned by an inode per debugfs icheck)"
echo "mirrorchk ext4 Open + Owners: $((ours / 1000000)) ms"
echo "debugfs icheck + ncheck:      $((best / 1000000)) ms"
awk -v a="$best" -v b="$ours" 'BEGIN { printf "ratio debugfs / mirrorchk: %.2f\n", a / b }'
