#!/usr/bin/env bash
# scan-vs-cmp.sh: how fast is "mirrorchk scan" next to the obvious tools?
#
# Usage: bench/scan-vs-cmp.sh [DIR]
#
# Makes two 1 GiB members in DIR (default: a new temporary directory, removed
# at the end; an existing m0/m1 pair of the right size in DIR is reused),
# m1 a copy of m0 with a few sectors changed, builds mirrorchk and a
# sha256 baseline, and times, on the same files:
#
#   cmp -l m0 m1 >FILE                 cmp alone stops at the first difference;
#                                      -l makes it read both files to the end,
#                                      but GNU cmp writing to /dev/null acts
#                                      as cmp -s and stops too: so every
#                                      command's output goes to a file
#   mirrorchk scan --hash none --quiet m0 m1
#   mirrorchk scan --hash sha256 --quiet m0 m1
#   sha256both m0 m1                   crypto/sha256 of both files, one
#                                      goroutine each, 4 MiB reads
#
# Every run is preceded by a warm-up read of both files, so all runs read
# from the page cache alike: this measures CPU cost, not the disk. Each
# command runs RUNS times (default 3) and the fastest wall time is kept.
# Peak RSS comes from /usr/bin/time; without it, times come from bash and
# RSS is not reported.
#
# Environment: RUNS (default 3), SIZE_MIB (default 1024), GO (default go),
# TIME (default /usr/bin/time; empty to time with bash).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-1024}
go=${GO:-go}
time_bin=${TIME-/usr/bin/time}

if [[ $# -gt 1 ]]; then
	echo "usage: $0 [DIR]" >&2
	exit 2
fi
if [[ $# -eq 1 ]]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/scan-vs-cmp.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
m0=$dir/m0.img
m1=$dir/m1.img
size=$((size_mib << 20))

# The sectors of m1 that differ from m0: near the start, in the middle, and
# the last sector.
sectors=(2048 2049 $((size / 1024)) $((size / 512 - 1)))

filesize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [[ $(filesize "$m0") -ne $size || $(filesize "$m1") -ne $size ]]; then
	echo "making two ${size_mib} MiB members in $dir"
	dd if=/dev/urandom of="$m0" bs=1M count="$size_mib" iflag=fullblock status=none
	cp --reflink=never --sparse=never "$m0" "$m1"
	for s in "${sectors[@]}"; do
		dd if=/dev/urandom of="$m1" bs=512 seek="$s" count=1 conv=notrunc status=none
	done
fi

echo "building mirrorchk and sha256both"
(cd "$repo" && "$go" build -o "$dir/mirrorchk" . && "$go" build -o "$dir/sha256both" ./bench/sha256both)

have_time=0
if [[ -n $time_bin && -x $time_bin ]]; then
	have_time=1
else
	echo "note: ${time_bin:-/usr/bin/time} not used; wall times from bash, no peak RSS"
fi

warm() { cat "$m0" "$m1" >/dev/null; }

# measure NAME OKCODES CMD...: runs CMD $runs times after a warm-up read
# each, and sets best_s (wall seconds), best_cpu (user+system seconds) and
# best_kib (peak RSS, or "-") of the fastest run. An exit status not in
# OKCODES (space-separated) is a failure.
measure() {
	local name=$1 ok=$2
	shift 2
	best_s="" best_cpu="" best_kib="-"
	local i rc s kib usr sys tf=$dir/time.out out=$dir/stdout.out log=$dir/stderr.out
	for ((i = 0; i < runs; i++)); do
		warm
		rc=0
		if ((have_time)); then
			"$time_bin" -f "%e %M %U %S" -o "$tf" "$@" >"$out" 2>"$log" || rc=$?
			# The last line: GNU time puts "Command exited with non-zero
			# status N" before it.
			read -r s kib usr sys < <(tail -n 1 "$tf")
		else
			local TIMEFORMAT="%R %U %S" t
			t=$({ time "$@" >"$out" 2>"$log"; } 2>&1) || rc=$?
			read -r s usr sys <<<"${t##*$'\n'}"
			kib="-"
		fi
		if [[ " $ok " != *" $rc "* ]]; then
			echo "$name: exit status $rc (expected one of: $ok)" >&2
			cat "$log" >&2
			exit 1
		fi
		if [[ -z $best_s ]] || awk -v a="$s" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
			best_s=$s best_kib=$kib
			best_cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
		fi
	done
}

declare -A secs rss
row() { # row KEY NAME OKCODES CMD...
	local key=$1 name=$2
	shift 2
	measure "$name" "$@"
	secs[$key]=$best_s
	rss[$key]=$best_kib
	local mbs
	mbs=$(awk -v s="$best_s" -v b="$size" 'BEGIN { if (s > 0) printf "%.0f", 2 * b / s / 1e6; else print "inf" }')
	printf '%-48s %8s s %8s s %8s MB/s %10s KiB\n' "$name" "$best_s" "$best_cpu" "$mbs" "$best_kib"
}

echo
echo "$(nproc) cores; ${size_mib} MiB per member; best of $runs runs, each after a warm-up read (page cache)"
printf '%-48s %10s %10s %13s %14s\n' "command" "wall" "CPU" "both members" "peak RSS"
# cmp exits 1 when the files differ; mirrorchk exits 4 when members differ.
row cmp "cmp -l m0 m1 >file (reads both to the end)" "0 1" cmp -l "$m0" "$m1"
row none "mirrorchk scan --hash none" "0 4" "$dir/mirrorchk" scan --hash none --quiet "$m0" "$m1"
row sha "mirrorchk scan --hash sha256" "0 4" "$dir/mirrorchk" scan --hash sha256 --quiet "$m0" "$m1"
row gosha "go sha256 of both files (2 goroutines)" "0" "$dir/sha256both" "$m0" "$m1"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "scan --hash none   / cmp -l     = $(ratio "${secs[none]}" "${secs[cmp]}")  (below 1: scan is faster)"
echo "scan --hash sha256 / go sha256  = $(ratio "${secs[sha]}" "${secs[gosha]}")  (1.00: hashing at the baseline's speed)"
if ((have_time)); then
	echo "peak RSS: scan --hash none ${rss[none]} KiB, scan --hash sha256 ${rss[sha]} KiB"
fi
