#!/usr/bin/env bash
# gen.sh — regenerate method.pb.go and method_grpc.pb.go from method.proto, and the Python
# example plugin's messages (plugins/examples/python/method_pb2.py).
#
# Not part of normal setup: the generated code is committed. Needs protoc (Debian's
# protobuf-compiler, installed here with apt-get if missing) and the two Go generators at
# pinned versions, installed into plugins/proto/.bin (git-ignored).
#
# gen.sh --python regenerates only method_pb2.py (protoc alone, no Go generators). Debian
# bookworm's protoc 3.21 writes code for python3-protobuf 3.21 (its Python version 4.21), the
# package the Python example is tested with; the service stubs are written by hand there, so
# neither grpcio-tools nor protoc's gRPC plugin is needed.
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$DIR"

PROTOC_GEN_GO=v1.36.12      # keep equal to google.golang.org/protobuf in go.mod
PROTOC_GEN_GO_GRPC=v1.5.1   # generated code needs google.golang.org/grpc >= 1.64

if ! command -v protoc >/dev/null; then
  SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi

PY_OUT="$DIR/../examples/python"
protoc -I . --python_out="$PY_OUT" method.proto
echo "gen.sh: regenerated examples/python/method_pb2.py with $(protoc --version)" >&2
[[ ${1:-} == --python ]] && exit 0

mkdir -p .bin
export GOBIN="$DIR/.bin"
[[ -x .bin/protoc-gen-go && $(.bin/protoc-gen-go --version) == *"$PROTOC_GEN_GO" ]] ||
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
[[ -x .bin/protoc-gen-go-grpc && $(.bin/protoc-gen-go-grpc --version) == *"${PROTOC_GEN_GO_GRPC#v}" ]] ||
  go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"

PATH="$DIR/.bin:$PATH" protoc -I . \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  method.proto
echo "gen.sh: regenerated $(ls "$DIR"/*.pb.go | xargs -n1 basename | tr '\n' ' ')with $(protoc --version)" >&2
