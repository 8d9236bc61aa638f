#!/usr/bin/env bash
# containers.sh: media-read throughput of image/qcow2 and image/vmdk
# against qemu-img on the same files. Called as bench/qcow2.sh or
# bench/vmdk.sh, or directly: bench/containers.sh qcow2|vmdk [DIR]
#
# Makes a SIZE_MIB (default 1024) raw image in DIR (default: a new
# temporary directory, removed at the end; an existing raw.img of the right
# size is reused): in every 64 MiB, 16 MiB of random bytes, 16 MiB of
# base64 text (compressible about 4:3), 32 MiB never written (a hole).
# Converts it with qemu-img (qcow2: plain, -c deflate, -c zstd; vmdk:
# monolithicSparse, streamOptimized, monolithicFlat), checks once that our
# reader's sha256 of each equals the raw image's, then times, per file:
#
#   qemu-img convert -n ... driver=null-co   qemu reads (and decompresses)
#                                            every allocated cluster, 8
#                                            requests in flight, and
#                                            discards them
#   containerread -skip FILE                 ours: one goroutine, 1 MiB
#                                            reads of the allocated runs
#                                            (Extent skips the rest), as
#                                            mirrorchk's diff does
#   qemu-img compare -f raw -F FMT raw FILE  reads both, compares
#   containerread -cmp raw FILE              ours, the same work
#
# Every run follows a warm-up read of the files (page cache): this measures
# CPU cost, not the disk. Best wall time of RUNS (default 3) runs.
# Environment: RUNS, SIZE_MIB, GO (default go).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-1024}
go=${GO:-go}

if [[ $# -lt 1 || $# -gt 2 || ( $1 != qcow2 && $1 != vmdk ) ]]; then
	echo "usage: $0 qcow2|vmdk [DIR]" >&2
	exit 2
fi
fmt=$1
if [[ $# -eq 2 ]]; then
	dir=$2
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/containers.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
raw=$dir/raw.img
size=$((size_mib << 20))

if [[ $(stat -c %s "$raw" 2>/dev/null || echo 0) -ne $size ]]; then
	echo "making a ${size_mib} MiB raw image in $dir"
	rm -f "$raw"
	truncate -s "$size" "$raw"
	for ((s = 0; s < size_mib; s += 64)); do
		dd if=/dev/urandom of="$raw" bs=1M seek="$s" count=16 conv=notrunc iflag=fullblock status=none
		{ head -c $((12 << 20)) /dev/urandom | base64 -w 76 | head -c $((16 << 20)) || true; } |
			dd of="$raw" bs=1M seek=$((s + 16)) conv=notrunc iflag=fullblock status=none
	done
fi

case $fmt in
qcow2)
	names=(plain deflate zstd)
	declare -A opts=([plain]="" [deflate]="-c" [zstd]="-c -o compression_type=zstd")
	ext=qcow2
	;;
vmdk)
	names=(monolithicSparse streamOptimized monolithicFlat)
	declare -A opts=([monolithicSparse]="-o subformat=monolithicSparse" [streamOptimized]="-o subformat=streamOptimized" [monolithicFlat]="-o subformat=monolithicFlat")
	ext=vmdk
	;;
esac
for n in "${names[@]}"; do
	if [[ ! -s $dir/$n.$ext ]]; then
		echo "qemu-img convert -O $fmt ${opts[$n]} raw.img $n.$ext"
		# shellcheck disable=SC2086
		qemu-img convert -f raw -O "$fmt" ${opts[$n]} "$raw" "$dir/$n.$ext"
	fi
done

echo "building containerread"
(cd "$repo" && "$go" build -o "$dir/containerread" ./bench/containerread)

want=$(sha256sum <"$raw" | cut -d' ' -f1)
for n in "${names[@]}"; do
	got=$("$dir/containerread" -sha256 "$dir/$n.$ext" | cut -d' ' -f1)
	if [[ $got != "$want" ]]; then
		echo "$n.$ext: our sha256 $got differs from the raw image's $want" >&2
		exit 1
	fi
done
echo "sha256 of every file read by containerread = sha256 of raw.img"

# best CMD...: sets b_wall and b_cpu (user+system seconds, "-" without
# /usr/bin/time) of the fastest of $runs runs.
time_bin=${TIME-/usr/bin/time}
best() {
	local i t u s b="" c="-" TIMEFORMAT=%R
	for ((i = 0; i < runs; i++)); do
		cat "$dir"/* >/dev/null 2>&1 || true
		if [[ -n $time_bin && -x $time_bin ]]; then
			"$time_bin" -f "%e %U %S" -o "$dir/time.out" "$@" >/dev/null 2>"$dir/err.log" || {
				echo "failed: $*" >&2
				cat "$dir/err.log" >&2
				exit 1
			}
			read -r t u s < <(tail -n 1 "$dir/time.out")
		else
			t=$({ time "$@" >/dev/null 2>"$dir/err.log"; } 2>&1) || {
				echo "failed: $*" >&2
				cat "$dir/err.log" >&2
				exit 1
			}
			t=${t##*$'\n'} u="" s=""
		fi
		if [[ -z $b ]] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then
			b=$t
			c=$([[ -n $u ]] && awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }' || echo -)
		fi
	done
	b_wall=$b b_cpu=$c
}
mbs() { awk -v s="$1" -v b="$size" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "inf" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }

echo
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${size_mib} MiB virtual disk; best of $runs runs"
echo "after a warm-up read; wall seconds (CPU seconds, user+system); MB/s of virtual disk"
printf '%-17s %5s %14s %14s %6s %7s %14s %14s %7s\n' file MiB "qemu convert" "ours -skip" "MB/s" speedup "qemu compare" "ours -cmp" speedup
for n in "${names[@]}"; do
	f=$dir/$n.$ext
	best qemu-img convert -n -f "$fmt" --target-image-opts "$f" "driver=null-co,size=$size"
	qc=$b_wall qcc=$b_cpu
	best "$dir/containerread" -skip "$f"
	oc=$b_wall occ=$b_cpu
	best qemu-img compare -q -f raw -F "$fmt" "$raw" "$f"
	qm=$b_wall qmc=$b_cpu
	best "$dir/containerread" -cmp "$raw" "$f"
	om=$b_wall omc=$b_cpu
	printf '%-17s %5s %14s %14s %6s %7s %14s %14s %7s\n' "$n" "$(du -m "$f" | cut -f1)" "$qc ($qcc)" "$oc ($occ)" "$(mbs "$oc")" "$(ratio "$oc" "$qc")x" "$qm ($qmc)" "$om ($omc)" "$(ratio "$om" "$qm")x"
done
echo "(speedup = qemu-img wall time / ours; above 1: ours is faster)"
