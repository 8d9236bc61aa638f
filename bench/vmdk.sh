#!/usr/bin/env bash
# vmdk.sh: bench/containers.sh for VMDK (monolithicSparse, streamOptimized,
# monolithicFlat); see there.
exec "$(dirname "${BASH_SOURCE[0]}")/containers.sh" vmdk "$@"
