#!/bin/sh
# Command B: install what is missing, build (Release) and run every test through CTest.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
"$here/scripts/install-deps.sh" --tests
"$here/scripts/build.sh"
cd "${BUILD_DIR:-$here/build}"
ctest --output-on-failure --timeout 1800 -j1
echo "test.sh: install + build + tests took $(( $(date +%s) - start )) s"
