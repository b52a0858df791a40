#!/usr/bin/env bash
# test.sh — the whole test suite (what `make test` and CI run). Assumes scripts/setup.sh ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go vet ./...
# The Slurm test (cmd/ptbench TestSlurmArrayOnLocalCluster) submits to a one-node cluster on
# localhost. As root (CI), install Debian's slurm-wlm and munge if missing, start the cluster,
# and stop it however we exit; elsewhere the test skips with a message.
if [[ $(id -u) -eq 0 ]] && ! command -v sbatch >/dev/null; then
  echo "test: installing slurm-wlm munge (the Slurm test's one-node cluster)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
if command -v sbatch >/dev/null && [[ $(id -u) -eq 0 ]]; then
  scripts/slurm-local.sh start
  trap 'scripts/slurm-local.sh stop' EXIT
  export PTBENCH_SLURM=1
fi
# The Python example plugin (cmd/ptbench TestPythonPlugin*) runs on Debian's python3 with
# grpcio, protobuf and numpy: as root (CI), install them if missing.
if [[ $(id -u) -eq 0 ]] && ! /usr/bin/python3 -c 'import grpc, google.protobuf, numpy' 2>/dev/null; then
  echo "test: installing python3-grpcio python3-protobuf python3-numpy (the Python plugin example)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-grpcio python3-protobuf python3-numpy >/dev/null
fi
# -p 1: the machine has 2 cores and libtorch uses both; parallel test binaries would thrash.
go test -p 1 -count=1 -timeout 30m ./... 2>&1 | tee /tmp/ptbench-test.log
# The task readers and metrics must build and test without cgo (no libtorch).
CGO_ENABLED=0 go test -count=1 ./tasks/... ./core/data/... ./core/registry/...
# Every fuzz target (parsers of outside input) for a short bounded time, one at a time:
# 10 targets x 10 s (README "Fuzzing" says how to run them longer).
FUZZTIME=${FUZZTIME:-10s} scripts/fuzz.sh
