#!/usr/bin/env bash
# gen.sh — regenerate method.pb.go and method_grpc.pb.go from method.proto.
#
# Not part of normal setup: the generated code is committed. Needs protoc (Debian's
# protobuf-compiler, installed here with apt-get if missing) and the two Go generators at
# pinned versions, installed into plugins/proto/.bin (git-ignored).
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
