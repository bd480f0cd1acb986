#!/bin/sh
# Command A: install what is missing, build (Release) and launch SwD Studio.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
exec "${BUILD_DIR:-$here/build}/app/swd-studio" "$@"
