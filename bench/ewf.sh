#!/usr/bin/env bash
# ewf.sh: how fast does image/ewf read an E01 set, next to ewfverify?
#
# Usage: bench/ewf.sh [DIR]
#
# Makes a 1 GiB raw disk in DIR (default: a new temporary directory, removed
# at the end; an existing m.raw and m.E01 set of the right size in DIR are
# reused) with mixed content: half a tar stream of /usr (compressible
# program and text files), 1/8 random bytes (incompressible), the rest
# zeros. ewfacquire stores it as an EnCase 6 set, deflate fast, 512 MiB
# segments. Then, on the same files, times:
#
#   ewfverify -q m.E01             libewf: inflate every chunk + MD5, one thread
#   image/ewf BenchmarkReadMD5     1 MiB ReadAt calls in order from one
#                                  goroutine (as the diff reads) + MD5
#   image/ewf BenchmarkRead        the same without MD5: the reader alone
#
# Every run is preceded by a warm-up read of the segment files, so all runs
# read from the page cache: this measures CPU cost, not the disk. Each
# command runs RUNS times (default 3) and the fastest wall time is kept.
# CPU is user+system time: the Go reader inflates chunks in parallel
# goroutines (read-ahead), so its CPU may exceed its wall time; ewfverify's
# does not. On a shared machine, compare CPU as well as wall.
#
# Environment: RUNS (default 3), SIZE_MIB (default 1024), GO (default go),
# TIME (default /usr/bin/time).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-1024}
go=${GO:-go}
time_bin=${TIME:-/usr/bin/time}

if [[ $# -gt 1 ]]; then
	echo "usage: $0 [DIR]" >&2
	exit 2
fi
for t in ewfacquire ewfverify "$time_bin"; do
	if ! command -v "$t" >/dev/null; then
		echo "$0: $t not found (apt-get install ewf-tools time)" >&2
		exit 1
	fi
done
if [[ $# -eq 1 ]]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ewf-bench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
size=$((size_mib << 20))
raw=$dir/m.raw

filesize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [[ $(filesize "$raw") -ne $size || ! -e $dir/m.E01 ]]; then
	echo "making a ${size_mib} MiB raw disk and its E01 set in $dir"
	rm -f "$dir"/m.E[0-9A-Z][0-9A-Z]
	{
		tar -cf - /usr 2>/dev/null | head -c $((size / 2)) || true
		head -c $((size / 8)) /dev/urandom
	} >"$raw"
	truncate -s "$size" "$raw" # the rest: zeros
	(cd "$dir" && ewfacquire -u -q -t m -f encase6 -c fast -S 512MiB m.raw >/dev/null)
fi
segs=("$dir"/m.E[0-9A-Z][0-9A-Z])
stored=0
for s in "${segs[@]}"; do stored=$((stored + $(filesize "$s"))); done

echo "building the image/ewf test binary"
(cd "$repo" && "$go" test -c -o "$dir/ewf.test" ./image/ewf)

warm() { cat "${segs[@]}" >/dev/null; }

# measure NAME CMD...: runs CMD $runs times after a warm-up read each and
# sets best_s (wall seconds), best_cpu (user+system seconds) and best_kib
# (peak RSS) of the fastest run.
measure() {
	local name=$1
	shift
	best_s="" best_cpu="" best_kib=""
	local i s kib usr sys tf=$dir/time.out
	for ((i = 0; i < runs; i++)); do
		warm
		if ! "$time_bin" -f "%e %M %U %S" -o "$tf" "$@" >"$dir/stdout.out" 2>"$dir/stderr.out"; then
			echo "$name failed:" >&2
			cat "$dir/stdout.out" "$dir/stderr.out" >&2
			exit 1
		fi
		read -r s kib usr sys < <(tail -n 1 "$tf")
		if [[ -z $best_s ]] || awk -v a="$s" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
			best_s=$s best_kib=$kib
			best_cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
		fi
	done
}

declare -A secs cpu
row() { # row KEY NAME CMD...
	local key=$1 name=$2
	shift 2
	measure "$name" "$@"
	secs[$key]=$best_s
	cpu[$key]=$best_cpu
	printf '%-34s %7s s %7s s %7s MiB/s %8s KiB\n' "$name" "$best_s" "$best_cpu" \
		"$(awk -v s="$best_s" -v b="$size" 'BEGIN { printf "%.0f", b / s / 1048576 }')" "$best_kib"
}

echo
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${size_mib} MiB media in ${#segs[@]} segments, $((stored >> 20)) MiB stored; best of $runs runs, page cache warm"
printf '%-34s %9s %9s %13s %12s\n' command wall CPU media "peak RSS"
row verify "ewfverify -q" ewfverify -q "${segs[0]}"
row md5 "image/ewf read + MD5" env EWF_BENCH="${segs[0]}" "$dir/ewf.test" -test.run '^$' -test.bench '^BenchmarkReadMD5$' -test.benchtime 1x
row read "image/ewf read" env EWF_BENCH="${segs[0]}" "$dir/ewf.test" -test.run '^$' -test.bench '^BenchmarkRead$' -test.benchtime 1x

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "wall: read+MD5 / ewfverify = $(ratio "${secs[md5]}" "${secs[verify]}"), read / ewfverify = $(ratio "${secs[read]}" "${secs[verify]}")  (below 1: image/ewf is faster)"
echo "CPU:  read+MD5 / ewfverify = $(ratio "${cpu[md5]}" "${cpu[verify]}"), read / ewfverify = $(ratio "${cpu[read]}" "${cpu[verify]}")"
