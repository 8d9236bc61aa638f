#!/bin/bash
# Rebuilds the filesystem-mirror scenario fixtures of testdata/fsmirror:
# sets of 2 or 3 member images of one RAID-1 mirror whose members diverged
# in a known way, each with a truth.json and a validation.txt.
#
# Needs root and FUSE (ntfs-3g), ntfs-3g, mkntfs/ntfsfix (ntfs-3g package),
# dosfstools, mtools, fdisk (sfdisk), sleuthkit, zstd, jq, openssl,
# coreutils (dd, od), diffutils (cmp). Byte edits are dd of printf/openssl output.
# The tests never run this: they only decompress the committed images.
#
#   bash testdata/fsmirror/build.sh            # all cases
#   bash testdata/fsmirror/build.sh three-way  # only the named cases
#
# Content is deterministic (seeded AES-CTR for "random" bytes, seq for
# text); volume serials, GUIDs and timestamps written by the tools are not,
# so a rebuild gives different bytes but the same truth structure. Every image
# offset in truth.json is derived by this script from the images
# (BPB/boot-sector fields, TSK istat cluster and sector lists), never typed
# in.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "build.sh needs root (FUSE mounts)" >&2; exit 1; }
export LC_ALL=C MTOOLS_SKIP_CHECK=1 TZ=UTC

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/fsmirror.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
ntfs_pid=
cleanup() {
	if mountpoint -q "$mnt"; then umount "$mnt" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

# rnd SEED N FILE: N deterministic pseudo-random bytes.
rnd() {
	local key
	key=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	head -c "$2" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000 >"$3"
}
# txt SEED N FILE: N bytes of compressible text.
txt() {
	seq -f "$1 %07g the quick brown fox jumps over the lazy dog" 1 $(($2 / 40 + 1)) >"$3"
	truncate -s "$2" "$3"
}
# le FILE OFFSET WIDTH: little-endian unsigned integer.
le() { od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# patch FILE OFFSET SRC: write SRC's bytes at OFFSET without truncating.
patch() { dd if="$3" of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# flipbit FILE OFFSET BIT
flipbit() {
	local b
	b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ (1 << $3))))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

ntfs_mount() {
	ntfs-3g -o no_detach "$1" "$mnt" >>"$work/ntfs-3g.log" 2>&1 &
	ntfs_pid=$!
	for _ in $(seq 50); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	echo "ntfs-3g did not mount $1" >&2
	return 1
}
# ntfs_umount waits for ntfs-3g to exit, so the image is fully written.
ntfs_umount() {
	sync
	umount "$mnt"
	wait "$ntfs_pid"
	ntfs_pid=
}

# ntfs_clusters IMG INODE: the clusters of the unnamed non-resident $DATA.
ntfs_clusters() {
	istat "$1" "$2" | awk '
		/^Type: / { d = ($0 ~ /^Type: \$DATA \(128-[0-9]+\)   Name: N\/A   Non-Resident/) ; next }
		d && /^[0-9 ]+$/ { for (i = 1; i <= NF; i++) print $i }'
}
# fat_sectors IMG INODE [OFFSET_SECTORS]: a FAT file's sectors (fs-relative).
fat_sectors() {
	istat -o "${3:-0}" "$1" "$2" | awk '
		/^Sectors:/ { s = 1; next }
		s && /^[0-9 ]+$/ { for (i = 1; i <= NF; i++) print $i }'
}
inode() { ifind -o "${3:-0}" -n "$2" "$1"; }

# json helpers: append one JSON value per line to a .jsonl file.
jl() { jq -cn "$@"; }

# The NTFS volume every NTFS case starts from: 32 MiB, 4 KiB clusters,
# nested dirs, ~50 files of varied sizes (0 B .. 300 KiB, resident ones
# up to ~700 B).
ntfs_base() { # IMG
	local img=$1 t=$work/t
	truncate -s 32M "$img"
	mkntfs -F -f -q -T -c 4096 -L mirrorchk "$img" 2>/dev/null
	ntfs_mount "$img"
	mkdir -p "$mnt/docs/reports/2024" "$mnt/docs/reports/2025" "$mnt/src/lib" \
		"$mnt/src/cmd/tool" "$mnt/media" "$mnt/empty" "$mnt/Program Files/Mirror Check"
	local i
	for i in 0 1 2 3 4 5 6 7 8 9; do # resident: 0..700 B
		txt res$i $((i * 77)) "$mnt/docs/small$i.txt"
	done
	for i in 1 2 3 4 5 6 7 8; do
		txt rep$i $((i * 1500 + 300)) "$mnt/docs/reports/2024/report$i.txt"
		txt q$i $((i * 900)) "$mnt/docs/reports/2025/q$i.csv"
	done
	for i in 1 2 3 4 5 6; do
		txt lib$i $((i * 5000)) "$mnt/src/lib/module$i.go"
		txt cmd$i $((i * 333)) "$mnt/src/cmd/tool/cmd$i.c"
	done
	for i in 1 2 3; do
		rnd photo$i $((i * 8192)) "$mnt/media/photo$i.jpg"
	done
	rnd clip 65536 "$mnt/media/clip.bin"
	txt big 307200 "$mnt/docs/big-report.txt"
	txt readme 1234 "$mnt/Program Files/Mirror Check/Read Me First.txt"
	rnd prog 16000 "$mnt/Program Files/Mirror Check/mirrorchk.exe"
	txt log 9000 "$mnt/src/build.log"
	: >"$mnt/src/EMPTY"
	ntfs_umount
}

# FAT volume content via mtools. fat_base IMG SPEC (SPEC: image[@@offset]).
fat_base() {
	local spec=$1 t=$work/t i
	mmd -i "$spec" ::/Documents ::/Documents/Reports ::/Documents/Reports/2024 \
		::/Pictures "::/Program Files" "::/Program Files/Mirror Check" ::/empty
	for i in 1 2 3 4 5 6; do
		txt fdoc$i $((i * 2100 + 17)) "$t"
		mcopy -i "$spec" "$t" "::/Documents/Document number $i.txt"
	done
	for i in 1 2 3 4; do
		txt frep$i $((i * 7000)) "$t"
		mcopy -i "$spec" "$t" "::/Documents/Reports/2024/Quarterly Report Q$i.csv"
	done
	for i in 1 2 3; do
		rnd fpic$i $((i * 20000)) "$t"
		mcopy -i "$spec" "$t" "::/Pictures/Holiday Picture $i.jpg"
	done
	txt fbig 400000 "$t"
	mcopy -i "$spec" "$t" "::/Documents/big archive.log"
	rnd fexe 30000 "$t"
	mcopy -i "$spec" "$t" "::/Program Files/Mirror Check/mirrorchk.exe"
	txt fsmall 100 "$t"
	mcopy -i "$spec" "$t" "::/README.TXT"
	txt fshort 5000 "$t"
	mcopy -i "$spec" "$t" "::/CONFIG.SYS"
	: >"$t"
	mcopy -i "$spec" "$t" "::/empty file.txt"
}

# fat_missed SPEC: the writes the stale member misses (adds, modifies,
# deletes, a rename). Prints nothing; the lists are in fat_missed_json.
fat_missed() {
	local spec=$1 t=$work/t i
	mmd -i "$spec" "::/New Folder"
	for i in 1 2 3; do
		txt fnew$i $((i * 3000)) "$t"
		mcopy -i "$spec" "$t" "::/New Folder/added file $i.txt"
	done
	rnd fnewpic 25000 "$t"
	mcopy -i "$spec" "$t" "::/Pictures/New Picture.jpg"
	txt fmod1 $((2 * 2100 + 17 + 3000)) "$t"
	mcopy -o -i "$spec" "$t" "::/Documents/Document number 2.txt"
	txt fmod2 7000 "$t"
	mcopy -o -i "$spec" "$t" "::/Documents/Reports/2024/Quarterly Report Q1.csv"
	txt fmod3 120 "$t"
	mcopy -o -i "$spec" "$t" "::/README.TXT"
	mdel -i "$spec" "::/Documents/Document number 5.txt" "::/Pictures/Holiday Picture 1.jpg"
	mren -i "$spec" "::/CONFIG.SYS" "::/config renamed.sys"
}
fat_missed_json() {
	jq -cn '{
	  added: ["/New Folder", "/New Folder/added file 1.txt", "/New Folder/added file 2.txt", "/New Folder/added file 3.txt", "/Pictures/New Picture.jpg"],
	  modified: [
	    {path: "/Documents/Document number 2.txt", how: "rewritten (mcopy -o), grows", old_size: 4217, new_size: 7217},
	    {path: "/Documents/Reports/2024/Quarterly Report Q1.csv", how: "rewritten (mcopy -o), same size, new content", old_size: 7000, new_size: 7000},
	    {path: "/README.TXT", how: "rewritten (mcopy -o), grows", old_size: 100, new_size: 120}],
	  deleted: ["/Documents/Document number 5.txt", "/Pictures/Holiday Picture 1.jpg"],
	  renamed: [{from: "/CONFIG.SYS", to: "/config renamed.sys"}]}'
}

# ------------------------------------------------------------- validation

# validate CASEDIR FSKIND FSOFFSET MEMBERS...: writes validation.txt and
# prints a JSON object {differing_bytes, fsck} for truth.json.
validate() {
	local dir=$1 kind=$2 off=$3
	shift 3
	local v=$dir/validation.txt m a b n rc sect
	sect=$((off / 512))
	: >"$v"
	local diffs='{}' fsck='{}' ranges='{}' r
	local ms=("$@")
	for ((a = 0; a < ${#ms[@]}; a++)); do
		for ((b = a + 1; b < ${#ms[@]}; b++)); do
			n=$( (cmp -l "$work/${ms[a]}.img" "$work/${ms[b]}.img" || true) | wc -l)
			echo "cmp -l ${ms[a]} ${ms[b]} | wc -l: $n" >>"$v"
			diffs=$(jq -c --arg k "${ms[a]}-${ms[b]}" --argjson n "$n" '.[$k]=$n' <<<"$diffs")
			# differing 512-byte sectors, merged into [offset, length] extents
			r=$( (cmp -l "$work/${ms[a]}.img" "$work/${ms[b]}.img" || true) | awk '
				{ s = int(($1 - 1) / 512); if (s == last) next
				  if (n && s == last + 1) { len++ } else { if (n) { out = out sep "[" st * 512 "," len * 512 "]"; sep = "," }; st = s; len = 1; n = 1 }
				  last = s }
				BEGIN { last = -1 }
				END { if (n) out = out sep "[" st * 512 "," len * 512 "]"; print "[" out "]" }')
			ranges=$(jq -c --arg k "${ms[a]}-${ms[b]}" --argjson r "$r" '.[$k]=$r' <<<"$ranges")
		done
	done
	for m in "${ms[@]}"; do
		local img=$work/$m.img tool
		if [ "$kind" = ntfs ]; then
			tool="ntfsfix -n"
			if [ "$off" != 0 ]; then
				# ntfsfix has no offset option: check the extracted volume.
				dd if="$img" of="$work/vol.img" bs=512 skip="$sect" status=none
				img=$work/vol.img
			fi
			rc=0
			ntfsfix -n "$img" >"$work/fsck.out" 2>&1 || rc=$?
		else
			tool="fsck.fat -n"
			if [ "$off" != 0 ]; then
				dd if="$img" of="$work/vol.img" bs=512 skip="$sect" status=none
				img=$work/vol.img
			fi
			rc=0
			fsck.fat -n "$img" >"$work/fsck.out" 2>&1 || rc=$?
		fi
		{
			echo
			echo "== $tool $m: exit $rc"
			sed "s|$work/||g" "$work/fsck.out"
		} >>"$v"
		fsck=$(jq -c --arg m "$m" --arg t "$tool" --argjson rc "$rc" '.[$m]={tool:$t, exit:$rc}' <<<"$fsck")
	done
	for ((a = 1; a < ${#ms[@]}; a++)); do
		fls -o "$sect" -r -p "$work/${ms[0]}.img" 2>&1 | sort >"$work/fls0" || true
		fls -o "$sect" -r -p "$work/${ms[a]}.img" 2>&1 | sort >"$work/fls1" || true
		{
			echo
			echo "== diff <(fls -r -p ${ms[0]}) <(fls -r -p ${ms[a]}) (sorted)"
			diff "$work/fls0" "$work/fls1" || true
		} >>"$v"
	done
	jq -cn --argjson d "$diffs" --argjson f "$fsck" --argjson r "$ranges" \
		'{differing_bytes: $d, differing_extents_512: $r, fsck: $f}'
}

# finish CASE FS FSOFFSET EXTRA_JSON MEMBERS...: compresses the members,
# validates and writes truth.json (EXTRA_JSON is merged in).
finish() {
	local c=$1 fs=$2 off=$3 extra=$4
	shift 4
	local dir=$out/$c m members='[]' val
	rm -rf "$dir"
	mkdir -p "$dir"
	val=$(validate "$dir" "$fs" "$off" "$@")
	for m in "$@"; do
		zstd -q -19 -f "$work/$m.img" -o "$dir/$m.img.zst"
		members=$(jq -c --arg f "$m.img" --arg h "$(sha256sum <"$work/$m.img" | cut -c1-64)" \
			--argjson s "$(stat -c %s "$work/$m.img")" '. + [{file: $f, bytes: $s, sha256: $h}]' <<<"$members")
	done
	jq -n --arg c "$c" --arg fs "$fs" --argjson off "$off" --argjson m "$members" \
		--argjson val "$val" --argjson x "$extra" '
		{case: $c, fs: $fs, fs_offset: $off, members: $m} + $x + $val' >"$dir/truth.json"
	echo "built $c: $(du -ch "$dir"/*.zst | tail -1 | cut -f1)"
}

cases=("$@")
want_case() { [ ${#cases[@]} -eq 0 ] || [[ " ${cases[*]} " == *" $1 "* ]]; }

# ===================================================== 1 ntfs-missed-writes
if want_case ntfs-missed-writes; then
	rm -f "$work"/*.img
	ntfs_base "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$work/m1.img" # m1: stale snapshot
	t=$work/t
	ntfs_mount "$work/m0.img"
	mkdir -p "$mnt/added/deep/er"
	txt add1 50000 "$mnt/added/new-large.txt"
	txt add2 300 "$mnt/added/deep/er/new-resident.txt"
	rnd add3 30000 "$mnt/media/photo4.jpg"
	txt add4 4096 "$mnt/docs/reports/2025/q9.csv"
	# in-place overwrite of part of a file (non-resident): bytes 8192..12287
	rnd ow1 4096 "$t"
	dd if="$t" of="$mnt/docs/big-report.txt" bs=4096 seek=2 conv=notrunc status=none
	# in-place overwrite inside a resident file: bytes 100..149
	rnd ow2 50 "$t"
	dd if="$t" of="$mnt/docs/small5.txt" bs=50 seek=2 conv=notrunc status=none
	# in-place overwrite in a random-content file: bytes 32768..36863
	rnd ow3 4096 "$t"
	dd if="$t" of="$mnt/media/clip.bin" bs=4096 seek=8 conv=notrunc status=none
	# appends: non-resident grows, resident becomes non-resident
	txt ap1 10000 "$t"
	cat "$t" >>"$mnt/src/lib/module3.go"
	txt ap2 6000 "$t"
	cat "$t" >>"$mnt/docs/small6.txt"
	# deletes
	rm "$mnt/docs/reports/2024/report4.txt" "$mnt/media/photo2.jpg" "$mnt/docs/small1.txt"
	rm -r "$mnt/empty"
	# rename
	mv "$mnt/src/cmd/tool/cmd2.c" "$mnt/src/cmd/tool/cmd2-renamed.c"
	ntfs_umount
	extra=$(jq -cn '{
	  image: "bare", cluster_size: 4096, mft_record_size: 1024,
	  stale_member: "m1", fresh_member: "m0", damaged_member: "",
	  roles: {m0: "fresh", m1: "stale (snapshot taken before the changes)"},
	  changes: {
	    added: ["/added", "/added/deep", "/added/deep/er", "/added/new-large.txt", "/added/deep/er/new-resident.txt", "/media/photo4.jpg", "/docs/reports/2025/q9.csv"],
	    modified: [
	      {path: "/docs/big-report.txt", how: "overwrite in place", offset: 8192, length: 4096},
	      {path: "/docs/small5.txt", how: "overwrite in place (resident)", offset: 100, length: 50},
	      {path: "/media/clip.bin", how: "overwrite in place", offset: 32768, length: 4096},
	      {path: "/src/lib/module3.go", how: "append", old_size: 15000, new_size: 25000},
	      {path: "/docs/small6.txt", how: "append (resident -> non-resident)", old_size: 462, new_size: 6462}],
	    deleted: ["/docs/reports/2024/report4.txt", "/media/photo2.jpg", "/docs/small1.txt", "/empty"],
	    renamed: [{from: "/src/cmd/tool/cmd2.c", to: "/src/cmd/tool/cmd2-renamed.c"}]}}')
	finish ntfs-missed-writes ntfs 0 "$extra" m0 m1
fi

# ====================================================== 2 ntfs-corrupt-data
if want_case ntfs-corrupt-data; then
	rm -f "$work"/*.img
	ntfs_base "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$work/m1.img"
	: >"$work/ranges.jsonl"
	# file, cluster index within the file, sector within cluster, sectors
	for spec in "docs/big-report.txt 20 1 3" "media/clip.bin 5 6 2"; do
		read -r path ci si ns <<<"$spec"
		ino=$(inode "$work/m1.img" "$path")
		cl=$(ntfs_clusters "$work/m1.img" "$ino" | sed -n "$((ci + 1))p")
		off=$((cl * 4096 + si * 512))
		len=$((ns * 512))
		rnd "corrupt-$path" "$len" "$work/t"
		patch "$work/m1.img" "$off" "$work/t"
		jl --arg p "/$path" --argjson ino "$ino" --argjson cl "$cl" --argjson off "$off" --argjson len "$len" \
			--argjson fo $((ci * 4096 + si * 512)) \
			'{member: "m1", path: $p, record: $ino, cluster: $cl, offset: $off, fs_offset: $off, length: $len, file_offset: $fo, kind: "random bytes"}' >>"$work/ranges.jsonl"
	done
	extra=$(jq -cn --slurpfile r "$work/ranges.jsonl" '{
	  image: "bare", cluster_size: 4096, mft_record_size: 1024,
	  stale_member: "", fresh_member: "", damaged_member: "m1",
	  roles: {m0: "intact", m1: "damaged: random bytes over a few data sectors of two files"},
	  corrupted: $r}')
	finish ntfs-corrupt-data ntfs 0 "$extra" m0 m1
fi

# ========================================================= 3 ntfs-torn-mft
if want_case ntfs-torn-mft; then
	rm -f "$work"/*.img
	ntfs_base "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$work/m1.img"
	img=$work/m1.img
	rs=$((1 << (256 - $(le "$img" 64 1)))) # 0x40: -log2(record size)
	[ "$rs" = 1024 ] || { echo "unexpected MFT record size $rs" >&2; exit 1; }
	mapfile -t mftcl < <(ntfs_clusters "$img" 0)
	: >"$work/ranges.jsonl"
	for spec in "docs/reports/2024/report3.txt file" "src/lib/module2.go file" "docs/reports/2025 directory"; do
		read -r path kind <<<"$spec"
		rec=$(inode "$img" "$path")
		roff=$((mftcl[rec * 1024 / 4096] * 4096 + rec * 1024 % 4096))
		usaofs=$(le "$img" $((roff + 4)) 2)
		usn=$(le "$img" $((roff + usaofs)) 2)
		# A torn write: the second 512-byte block holds other bytes, its
		# last 2 bytes (the update-sequence slot) no longer the USN.
		toff=$((roff + 1024 - 48))
		rnd "torn-$rec" 48 "$work/t"
		[ "$(le "$work/t" 46 2)" != "$usn" ] || { echo "torn bytes keep the USN" >&2; exit 1; }
		patch "$img" "$toff" "$work/t"
		jl --arg p "/$path" --arg k "$kind" --argjson rec "$rec" --argjson roff "$roff" --argjson toff "$toff" --argjson usn "$usn" \
			'{member: "m1", record: $rec, path: $p, kind: $k, record_offset: $roff, torn_block: 1, usn: $usn,
			  offset: $toff, fs_offset: $toff, length: 48}' >>"$work/ranges.jsonl"
	done
	# Sleuth Kit must now refuse the torn records on m1 (and read m0's).
	{
		for rec in $(jq -r .record "$work/ranges.jsonl"); do
			echo "== istat m1 $rec"
			if istat "$img" "$rec" >"$work/i.out" 2>&1; then echo "istat m1 $rec succeeded" >&2; exit 1; fi
			cat "$work/i.out"
			istat "$work/m0.img" "$rec" >/dev/null
			echo "(istat m0 $rec: ok)"
		done
	} >"$work/istat.txt"
	grep -q "Incorrect update sequence value" "$work/istat.txt"
	extra=$(jq -cn --slurpfile r "$work/ranges.jsonl" '{
	  image: "bare", cluster_size: 4096, mft_record_size: 1024,
	  stale_member: "", fresh_member: "", damaged_member: "m1",
	  roles: {m0: "intact", m1: "damaged: 3 torn MFT records (second 512-byte block)"},
	  torn_mft_records: $r, corrupted: $r}')
	finish ntfs-torn-mft ntfs 0 "$extra" m0 m1
	cat "$work/istat.txt" >>"$out/ntfs-torn-mft/validation.txt"
fi

# ========================================================= 4 fat-torn-fat2
# fat_torn CASE FATBITS SIZE_MIB SECTORS_PER_CLUSTER "FAT2-relative sectors"
fat_torn() {
	local c=$1 bits=$2 size=$3 spc=$4 secs=$5 img=$work/m1.img
	rm -f "$work"/*.img
	truncate -s "${size}M" "$work/m0.img"
	mkfs.fat -F "$bits" -s "$spc" -n MIRRORCHK -i 4d435231 --invariant "$work/m0.img" >/dev/null
	fat_base "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$img"
	local rsv nf fsz s off
	rsv=$(le "$img" 14 2)
	nf=$(le "$img" 16 1)
	fsz=$(le "$img" 22 2)
	[ "$fsz" != 0 ] || fsz=$(le "$img" 36 4)
	[ "$nf" = 2 ] || { echo "expected 2 FATs" >&2; exit 1; }
	: >"$work/ranges.jsonl"
	for s in $secs; do
		off=$(((rsv + fsz + s) * 512))
		# must hold used entries on the intact copy
		[ "$(od -An -v -t x1 -j "$off" -N 512 "$img" | tr -d ' 0\n')" != "" ] || { echo "FAT 2 sector $s is empty" >&2; exit 1; }
		rnd "fat2-$c-$s" 512 "$work/t"
		patch "$img" "$off" "$work/t"
		jl --argjson s "$s" --argjson abs $((rsv + fsz + s)) --argjson off "$off" \
			'{member: "m1", fat: 2, fat_sector: $s, sector: $abs, offset: $off, fs_offset: $off, length: 512, kind: "random bytes"}' >>"$work/ranges.jsonl"
	done
	extra=$(jq -cn --slurpfile r "$work/ranges.jsonl" --argjson rsv "$rsv" --argjson fsz "$fsz" --argjson spc "$spc" '{
	  image: "bare", cluster_size: ($spc * 512), reserved_sectors: $rsv, fat_sectors: $fsz,
	  fat1_sector: $rsv, fat2_sector: ($rsv + $fsz),
	  stale_member: "", fresh_member: "", damaged_member: "m1",
	  roles: {m0: "intact", m1: "damaged: sectors of the second FAT copy torn"},
	  torn_fat_sectors: $r, corrupted: $r}')
	finish "$c" "fat$bits" 0 "$extra" m0 m1
}
if want_case fat-torn-fat2-fat32; then fat_torn fat-torn-fat2-fat32 32 40 1 "1 2 5"; fi
if want_case fat-torn-fat2-fat16; then fat_torn fat-torn-fat2-fat16 16 16 1 "1 2 4"; fi

# ============================================================ 5 three-way
if want_case three-way; then
	rm -f "$work"/*.img
	truncate -s 16M "$work/m0.img"
	mkfs.fat -F 16 -s 4 -n THREEWAY -i 4d435233 --invariant "$work/m0.img" >/dev/null
	fat_base "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$work/m2.img" # m2: stale
	sleep 3 # FAT times have 2-second resolution: the later writes must carry later times, as on a real system
	fat_missed "$work/m0.img"
	cp --sparse=always "$work/m0.img" "$work/m1.img" # m1 = m0, then bit rot
	: >"$work/ranges.jsonl"
	# path, byte within the file, bit
	for spec in "/Documents/big archive.log|1000|3" "/Documents/big archive.log|200000|0" \
		"/Pictures/Holiday Picture 2.jpg|30001|7" "/New Folder/added file 2.txt|4000|5"; do
		IFS='|' read -r path fo bit <<<"$spec"
		ino=$(inode "$work/m1.img" "$path")
		sec=$(fat_sectors "$work/m1.img" "$ino" | sed -n "$((fo / 512 + 1))p")
		off=$((sec * 512 + fo % 512))
		flipbit "$work/m1.img" "$off" "$bit"
		jl --arg p "$path" --argjson ino "$ino" --argjson sec "$sec" --argjson off "$off" --argjson fo "$fo" --argjson bit "$bit" \
			'{member: "m1", path: $p, inode: $ino, sector: $sec, offset: $off, fs_offset: $off, length: 1, file_offset: $fo, bit: $bit, kind: "bit flip"}' >>"$work/ranges.jsonl"
	done
	extra=$(jq -cn --slurpfile r "$work/ranges.jsonl" --argjson ch "$(fat_missed_json)" '{
	  image: "bare", cluster_size: 2048,
	  stale_member: "m2", fresh_member: "m0", damaged_member: "m1",
	  roles: {m0: "fresh, intact", m1: "fresh, bit rot (single-bit flips in file data)", m2: "stale (missed the changes)"},
	  changes: $ch, corrupted: $r,
	  note: "m1 is a copy of m0 after the changes, then bit-flipped; the flip in /New Folder/added file 2.txt has no majority (m2 lacks the file)"}')
	finish three-way fat16 0 "$extra" m0 m1 m2
fi

# ============================================================ 6 bare-pair
if want_case bare-pair; then
	rm -f "$work"/*.img
	truncate -s 16M "$work/m1.img"
	mkfs.fat -F 16 -s 4 -n BAREPAIR -i 4d435236 --invariant "$work/m1.img" >/dev/null
	fat_base "$work/m1.img"
	cp --sparse=always "$work/m1.img" "$work/m0.img" # m0: stale
	sleep 3 # FAT times have 2-second resolution: the later writes must carry later times, as on a real system
	fat_missed "$work/m1.img"
	extra=$(jq -cn --argjson ch "$(fat_missed_json)" '{
	  image: "bare", cluster_size: 2048,
	  stale_member: "m0", fresh_member: "m1", damaged_member: "",
	  roles: {m0: "stale (missed the changes)", m1: "fresh"},
	  changes: $ch}')
	finish bare-pair fat16 0 "$extra" m0 m1
fi

# ============================================================= 7 mbr-pair
if want_case mbr-pair; then
	rm -f "$work"/*.img
	disk=$work/m0.img
	truncate -s 20M "$disk"
	printf 'label: dos\nlabel-id: 0x4d435237\nstart=2048, type=6\n' | sfdisk -q "$disk"
	start=$(sfdisk -J "$disk" | jq '.partitiontable.partitions[0].start')
	nsect=$(sfdisk -J "$disk" | jq '.partitiontable.partitions[0].size')
	truncate -s $((nsect * 512)) "$work/vol"
	mkfs.fat -F 16 -s 4 -h "$start" -n MBRPAIR -i 4d435237 --invariant "$work/vol" >/dev/null
	dd if="$work/vol" of="$disk" bs=512 seek="$start" conv=notrunc,sparse status=none
	rm "$work/vol"
	spec="$disk@@$((start * 512))"
	fat_base "$spec"
	cp --sparse=always "$disk" "$work/m1.img" # m1: stale
	sleep 3 # FAT times have 2-second resolution: the later writes must carry later times, as on a real system
	fat_missed "$spec"
	extra=$(jq -cn --argjson ch "$(fat_missed_json)" --argjson st "$start" --argjson n "$nsect" '{
	  image: "mbr", cluster_size: 2048,
	  partition: {table: "dos", index: 1, type: "0x06", start_lba: $st, sectors: $n, hidden_sectors: $st},
	  stale_member: "m1", fresh_member: "m0", damaged_member: "",
	  roles: {m0: "fresh", m1: "stale (missed the changes)"},
	  changes: $ch}')
	finish mbr-pair fat16 $((start * 512)) "$extra" m0 m1
fi

# ======================================================== 7b mbr-pair-ntfs
if want_case mbr-pair-ntfs; then
	rm -f "$work"/*.img
	disk=$work/m0.img
	truncate -s 34M "$disk"
	printf 'label: dos\nlabel-id: 0x4d435238\nstart=2048, type=7\n' | sfdisk -q "$disk"
	start=$(sfdisk -J "$disk" | jq '.partitiontable.partitions[0].start')
	nsect=$(sfdisk -J "$disk" | jq '.partitiontable.partitions[0].size')
	truncate -s $((nsect * 512)) "$work/vol"
	mkntfs -F -f -q -T -c 4096 -p "$start" -H 255 -S 63 -L mbrntfs "$work/vol" 2>/dev/null
	ntfs_mount "$work/vol"
	mkdir -p "$mnt/docs/sub"
	for i in 1 2 3 4 5 6; do txt mn$i $((i * 3000)) "$mnt/docs/file$i.txt"; done
	txt mnr 400 "$mnt/docs/sub/resident.txt"
	rnd mnb 60000 "$mnt/blob.bin"
	ntfs_umount
	cp --sparse=always "$disk" "$work/m1.img"
	dd if="$work/vol" of="$work/m1.img" bs=512 seek="$start" conv=notrunc,sparse status=none
	# m1 is the stale snapshot; m0 gets the later writes
	ntfs_mount "$work/vol"
	txt mna 20000 "$mnt/docs/added.txt"
	rnd mnw 4096 "$work/t"
	dd if="$work/t" of="$mnt/blob.bin" bs=4096 seek=3 conv=notrunc status=none
	rm "$mnt/docs/file2.txt"
	mv "$mnt/docs/file3.txt" "$mnt/docs/file3-renamed.txt"
	ntfs_umount
	dd if="$work/vol" of="$disk" bs=512 seek="$start" conv=notrunc,sparse status=none
	rm "$work/vol"
	extra=$(jq -cn --argjson st "$start" --argjson n "$nsect" '{
	  image: "mbr", cluster_size: 4096, mft_record_size: 1024,
	  partition: {table: "dos", index: 1, type: "0x07", start_lba: $st, sectors: $n, hidden_sectors: $st},
	  stale_member: "m1", fresh_member: "m0", damaged_member: "",
	  roles: {m0: "fresh", m1: "stale (missed the changes)"},
	  changes: {
	    added: ["/docs/added.txt"],
	    modified: [{path: "/blob.bin", how: "overwrite in place", offset: 12288, length: 4096}],
	    deleted: ["/docs/file2.txt"],
	    renamed: [{from: "/docs/file3.txt", to: "/docs/file3-renamed.txt"}]}}')
	finish mbr-pair-ntfs ntfs $((start * 512)) "$extra" m0 m1
fi
