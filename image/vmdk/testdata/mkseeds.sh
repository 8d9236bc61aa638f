#!/bin/sh
# mkseeds.sh: makes the small real VMDK files that seed FuzzVMDK, from a
# 64 KiB FAT12 image with one text file. Run it here; commit the outputs.
# qemu-img has no grain size option (64 KiB grains, 64 KiB of overhead),
# so the sparse files whose grains are all zero grains (zeroed_grain=on,
# write -z) are cut after their last grain table: nothing past it is read.
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkfs.fat -C "$t/raw.img" 64 >/dev/null
seq 1 400 >"$t/numbers.txt"
mcopy -i "$t/raw.img" "$t/numbers.txt" ::/
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$t/raw.img" stream.vmdk
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$t/raw.img" flat.vmdk
rm flat-flat.vmdk # the fuzz test serves its own flat extent
qemu-img convert -f raw -O vmdk -o subformat=twoGbMaxExtentSparse "$t/raw.img" split.vmdk
rm split-s001.vmdk # the fuzz test serves base.vmdk for it
qemu-img create -q -f vmdk -o zeroed_grain=on base.vmdk 1M
qemu-io -f vmdk -c 'write -z 0 65536' -c 'write -z 196608 65536' base.vmdk >/dev/null
qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk child.vmdk
qemu-io -f vmdk -c 'write -z 65536 65536' child.vmdk >/dev/null
# cut each sparse file after its grain tables
for f in base.vmdk child.vmdk; do
	gd=$(od -An -tu8 -j56 -N8 "$f" | tr -d ' ')
	truncate -s $(( (gd + 4) * 512 + 2048 )) "$f"
done
ls -l *.vmdk
