#!/usr/bin/env bash
# vhd.sh: how fast do mirrorchk's VHD and VHDX readers read the virtual disk,
# next to qemu-img?
#
# Usage: bench/vhd.sh [DIR]
#
# Makes in DIR (default: a new temporary directory, removed at the end) a
# 1 GiB raw image, three quarters random data and one quarter holes, and
# converts it with qemu-img to a dynamic VHD (force_size=on, so the sizes
# match), a fixed VHD, a dynamic VHDX and a fixed VHDX. Then times, for each:
#
#   qemu-img compare -f raw -F vpc|vhdx raw.img X     the peer
#   vhdcompare vhd|vhdx raw.img X                     the same comparison through
#                                                     image/vhd, image/vhdx
#                                                     (bench/vhdcompare)
#
# Both read the raw image and the container's virtual disk to the end, and
# skip what the container says is unallocated (qemu-img through its block
# status; vhdcompare through Extent). Every run is preceded by a warm-up
# read, so both read from the page cache: this measures CPU cost, not the
# disk. Each command runs RUNS times (default 3); the fastest wall time and
# the smallest CPU time (user + system, from /usr/bin/time) are kept.
# Ratio = vhdcompare / qemu-img (below 1: mirrorchk faster). On a machine
# shared with other work the CPU ratio is the steadier of the two.
#
# Environment: RUNS (default 3), SIZE_MIB (default 1024), GO (default go).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-1024}
go=${GO:-go}

if [[ $# -gt 1 ]]; then
	echo "usage: $0 [DIR]" >&2
	exit 2
fi
if [[ $# -eq 1 ]]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vhd-bench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
for t in qemu-img; do
	command -v "$t" >/dev/null || { echo "$t missing: apt-get install -y qemu-utils" >&2; exit 2; }
done

raw=$dir/raw.img
if [[ $(stat -c %s "$raw" 2>/dev/null || echo 0) -ne $((size_mib << 20)) ]]; then
	echo "making a ${size_mib} MiB raw image in $dir"
	rm -f "$raw"
	truncate -s "${size_mib}M" "$raw"
	# Random data in the first three quarters of every 64 MiB, holes after.
	for ((m = 0; m < size_mib; m += 64)); do
		dd if=/dev/urandom of="$raw" bs=1M seek=$m count=48 conv=notrunc iflag=fullblock status=none
	done
	qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on "$raw" "$dir/d.vhd"
	qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$raw" "$dir/f.vhd"
	qemu-img convert -f raw -O vhdx -o subformat=dynamic "$raw" "$dir/d.vhdx"
	qemu-img convert -f raw -O vhdx -o subformat=fixed "$raw" "$dir/f.vhdx"
fi

echo "building vhdcompare"
(cd "$repo" && "$go" build -o "$dir/vhdcompare" ./bench/vhdcompare)

# best CMD...: sets wall and cpu (user+system seconds) of the fastest of
# $runs runs, each after a warm-up read.
best() {
	local i s u y
	wall="" cpu=""
	for ((i = 0; i < runs; i++)); do
		cat "$raw" "$img" >/dev/null
		/usr/bin/time -f "%e %U %S" -o "$dir/time" "$@" >"$dir/out" 2>&1 || { cat "$dir/out" >&2; exit 1; }
		grep -q "identical" "$dir/out" || { cat "$dir/out" >&2; exit 1; }
		read -r s u y < <(tail -n 1 "$dir/time")
		if [[ -z $wall ]] || awk -v a="$s" -v b="$wall" 'BEGIN { exit !(a < b) }'; then wall=$s; fi
		y=$(awk -v u="$u" -v y="$y" 'BEGIN { printf "%.2f", u + y }')
		if [[ -z $cpu ]] || awk -v a="$y" -v b="$cpu" 'BEGIN { exit !(a < b) }'; then cpu=$y; fi
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "$(nproc) cores; ${size_mib} MiB virtual disk (3/4 data); best of $runs runs after a warm-up read (page cache)"
printf '%-8s %-5s %9s %9s %7s %9s %9s %7s %9s\n' file fmt "qemu wall" "ours wall" ratio "qemu CPU" "ours CPU" ratio "MB/s ours"
for x in d.vhd:vpc:vhd f.vhd:vpc:vhd d.vhdx:vhdx:vhdx f.vhdx:vhdx:vhdx; do
	IFS=: read -r name qfmt ofmt <<<"$x"
	img=$dir/$name
	best qemu-img compare -f raw -F "$qfmt" "$raw" "$img"
	qw=$wall qc=$cpu
	best "$dir/vhdcompare" "$ofmt" "$raw" "$img"
	printf '%-8s %-5s %9s %9s %7s %9s %9s %7s %9s\n' "$name" "$ofmt" "$qw" "$wall" "$(ratio "$wall" "$qw")" "$qc" "$cpu" "$(ratio "$cpu" "$qc")" \
		"$(awk -v s="$wall" -v b="$((size_mib << 20))" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "inf" }')"
done
