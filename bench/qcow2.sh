#!/usr/bin/env bash
# qcow2.sh: bench/containers.sh for qcow2 (plain, deflate, zstd); see there.
exec "$(dirname "${BASH_SOURCE[0]}")/containers.sh" qcow2 "$@"
