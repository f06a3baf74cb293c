#!/usr/bin/env bash
# Copies the shared libraries the given binaries load (as ldd resolves them here) into DEST, so a
# runtime image needs no -dev packages and no package names of its own. The C library, the
# dynamic loader and CUDA's libraries (the runtime base image has those) are left out.
# usage: collect_runtime_libs.sh DEST BINARY...
set -euo pipefail
dest="$1"
shift
mkdir -p "$dest"
for binary in "$@"; do
  ldd "$binary" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libcuda.so.*) continue ;;
    esac
    case "$lib" in
      /usr/local/cuda*) continue ;;
    esac
    cp -L -n "$lib" "$dest/"
  done
done
echo "collect_runtime_libs: $(find "$dest" -maxdepth 1 -type f | wc -l) libraries in $dest"
