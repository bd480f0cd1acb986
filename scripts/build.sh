#!/bin/sh
# Configures and builds SwD Studio (Release) in BUILD_DIR (default: build). Extra arguments go to CMake.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build"
