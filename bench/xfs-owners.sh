#!/bin/sh
# xfs-owners.sh IMG: time XFS owner mapping — xfs_db's blockget (the peer:
# it reads every inode and builds its block map) on IMG, then mirrorchk's
# fs/xfs benchmarks (Open, 10 metadata ranges, one file range which runs
# the inode walk, and the whole filesystem) on the 300 MiB test fixture.
# Without IMG a 300 MiB v5 image is made with mkfs.xfs in a temp dir.
set -eu
cd "$(dirname "$0")/.."
img=${1:-}
if [ -z "$img" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	img=$tmp/x.img
	truncate -s 300M "$img"
	mkfs.xfs -q "$img"
fi
echo "== xfs_db -r -c 'blockget -n' $img"
/usr/bin/time -f '%e s, %M KiB max RSS' xfs_db -r -c "blockget -n" "$img"
echo "== go test -bench . ./fs/xfs"
go test -run XXX -bench . -benchmem ./fs/xfs
