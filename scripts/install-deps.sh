#!/bin/sh
# Installs the Debian bookworm packages SwD Studio needs, only those that are missing (quick and
# idempotent when everything is present). Usage: scripts/install-deps.sh [--tests]
set -eu

PACKAGES="cmake ninja-build pkg-config g++ ccache
  qt6-base-dev qt6-base-dev-tools qt6-qpa-plugins libqt6opengl6-dev qt6-charts-dev qt6-svg-dev
  libtorch-dev libopenblas0-openmp libdnnl-dev
  libsentencepiece-dev libopenimageio-dev libpng-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libicu-dev
  fonts-dejavu-core"
# Tests also build the libFuzzer targets (clang + its runtime), take screenshots under Xvfb, read our
# images with the tools users have (exiftool, pngcheck) and build and check the Debian package
# (dpkg-shlibdeps from dpkg-dev, lintian, file).
TEST_PACKAGES="clang libclang-rt-14-dev xvfb xauth
  libimage-exiftool-perl pngcheck dpkg-dev lintian file"

want="$PACKAGES"
if [ "${1:-}" = "--tests" ]; then want="$want $TEST_PACKAGES"; fi

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: every package is present"
    exit 0
fi

echo "install-deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps the set small. libopenblas0-openmp provides the BLAS libtorch uses
# (the default reference BLAS is ~50x slower); never add libopenblas0-pthread, which ignores the
# thread count libtorch sets.
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
