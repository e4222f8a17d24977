#!/usr/bin/env bash
# Builds the reference servers of this benchmark into $1 (default .build/peers): gRPC C++ and
# grpc-go, from Protos/grpc/testing, offline, with what `scripts/setup --bench` installs.
set -euo pipefail
cd "$(dirname "$0")"
out="$(realpath -m "${1:-.build/peers}")"
protos=../../Protos
mkdir -p "$out/cpp" "$out/gopath/src/grpcbench/testing" "$out/gopath/bin"
for tool in g++ protoc grpc_cpp_plugin go pkg-config; do
  command -v "$tool" > /dev/null || { echo "build-peers: $tool is missing; run scripts/setup --bench" >&2; exit 1; }
done

# gRPC C++: generated code and the server, -O2.
if [ ! -x "$out/grpc-cpp-bench-server" ] || [ cpp/server.cc -nt "$out/grpc-cpp-bench-server" ]; then
  protoc -I"$protos" --cpp_out="$out/cpp" --grpc_out="$out/cpp" --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" \
    grpc/testing/test.proto grpc/testing/messages.proto grpc/testing/empty.proto
  g++ -O2 -std=c++17 -I"$out/cpp" cpp/server.cc "$out"/cpp/grpc/testing/*.cc -o "$out/grpc-cpp-bench-server" \
    $(pkg-config --cflags --libs grpc++ protobuf) -lpthread
fi

# grpc-go in GOPATH mode against Debian's sources (no module download): protoc-gen-go first —
# the APIv1 one of github.com/golang/protobuf 1.3, which grpc-go 1.33's codec marshals.
export GOPATH="$out/gopath:/usr/share/gocode" GO111MODULE=off GOCACHE="$out/gocache"
if [ ! -x "$out/gopath/bin/protoc-gen-go" ]; then
  go build -o "$out/gopath/bin/protoc-gen-go" github.com/golang/protobuf/protoc-gen-go
fi
if [ ! -x "$out/grpc-go-bench-server" ] || [ go/server.go -nt "$out/grpc-go-bench-server" ]; then
  mapping="Mgrpc/testing/messages.proto=grpcbench/testing,Mgrpc/testing/empty.proto=grpcbench/testing"
  protoc -I"$protos" --plugin=protoc-gen-go="$out/gopath/bin/protoc-gen-go" \
    --go_out="paths=source_relative,$mapping:$out/gopath/src/grpcbench/testing" \
    grpc/testing/messages.proto grpc/testing/empty.proto
  mv "$out"/gopath/src/grpcbench/testing/grpc/testing/*.go "$out/gopath/src/grpcbench/testing/"
  rm -rf "$out/gopath/src/grpcbench/testing/grpc"
  mkdir -p "$out/gopath/src/grpcbench/server"
  cp go/server.go "$out/gopath/src/grpcbench/server/"
  go build -o "$out/grpc-go-bench-server" grpcbench/server
fi
echo "build-peers: $out/grpc-cpp-bench-server $out/grpc-go-bench-server"
