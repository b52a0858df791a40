#!/usr/bin/env bash
# setup.sh — make a fresh Debian bookworm machine able to build and test ptbench.
# Idempotent: every step checks before it acts, so running it twice is cheap.
#
#   1. Debian packages: libtorch-dev (1.13.1, CPU) and libopenblas0-openmp, so that
#      libtorch's libblas.so.3 resolves to OpenBLAS (the reference BLAS is ~25x slower;
#      the -pthread variant ignores torch's thread count and oversubscribes the cores).
#      libtcmalloc-minimal4: ptbench preloads it (glibc's malloc lets RSS creep under libtorch).
#      (The Slurm test's packages, slurm-wlm and munge, are the test script's business:
#      scripts/test.sh installs them, so `make smoke` does not need them.)
#   2. A patched copy of gotch v0.9.1 in third_party/gotch (git-ignored), made by
#      scripts/setup-gotch.sh from the Go module proxy.
#   3. Go modules, then the ptbench binary and the example plugin into bin/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "setup: $*" >&2; }

need_pkgs=()
for p in libtorch-dev libopenblas0-openmp libtcmalloc-minimal4 g++; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  log "installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q 'install ok installed'; then
  log "WARNING: libopenblas0-pthread is installed; it oversubscribes cores. Prefer: apt-get remove libopenblas0-pthread"
fi
# Make sure the BLAS and LAPACK alternatives point at OpenBLAS-openmp: not the reference BLAS,
# and not the pthread variant, which another package (e.g. libopenblas-dev, pulled in by
# python3-torch) may have installed and selected. libtorch links libopenblas.so.0 itself, whose
# alternative is separate from libblas.so.3's (auto mode prefers pthread's higher priority).
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  cur=$(readlink -f /usr/lib/x86_64-linux-gnu/$lib 2>/dev/null || true)
  case $cur in
    *openblas-openmp*) ;;
    *) alt=$(update-alternatives --list $lib-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp | head -1 || true)
       if [[ -n $alt ]]; then ${SUDO:-} update-alternatives --set $lib-x86_64-linux-gnu "$alt" >/dev/null; fi ;;
  esac
done
log "libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?'), libopenblas.so.0 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null || echo '?')"

scripts/setup-gotch.sh apply
go mod download
mkdir -p bin
go build -o bin/ptbench ./cmd/ptbench
if [[ -d plugins/examples ]]; then
  for d in plugins/examples/*/; do
    [[ -f $d/go.mod ]] || continue
    name=$(basename "$d")
    (cd "$d" && go build -o "$ROOT/bin/ptbench-method-$name" .)
  done
fi
log "ready: bin/ptbench"
