#!/bin/sh
# Builds the Debian package from a configured and built tree and checks it as a user's system would:
# lintian reports no error, the control fields are complete, and the installed files work on their own
# (extracted into a scratch root: `swd --version` must find its data there, `swd presets list` and a
# demo-model `swd generate` must run from it).
#
#   scripts/package.sh [BUILD_DIR]        default: build
#
# Exit status 0 when every check passed. ctest runs it as the test "package.deb".
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${BUILD_DIR:-$here/build}}" && pwd)
out="$build/package"
fail() { echo "package.sh: FAILED: $*" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; fail "cpack"; }
deb=$(ls "$out"/swd-studio_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
[ -n "$deb" ] || fail "cpack wrote no .deb (see $out/cpack.log)"
echo "package.sh: built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dbgsym=$(ls "$out"/swd-studio-dbgsym_*.*deb 2>/dev/null | head -n 1 || true)
[ -n "$dbgsym" ] || fail "no -dbgsym package next to $(basename "$deb")"
echo "package.sh: built $(basename "$dbgsym")"

# Control fields a user's package manager relies on.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Section)" = "graphics" ] || fail "Section is '$(field Section)', want graphics"
field Maintainer | grep -Eq '^[^<>]+ <[^@<> ]+@[^@<> ]+>$' || fail "malformed Maintainer '$(field Maintainer)'"
depends=$(field Depends)
for need in libtorch libsentencepiece libopenimageio libopenblas0-openmp; do
    echo "$depends" | grep -q "$need" || fail "Depends lacks $need: $depends"
done
if [ -x "$build/app/swd-studio" ]; then
    for need in libqt6svg6 qt6-qpa-plugins libqt6widgets6; do
        echo "$depends" | grep -q "$need" || fail "Depends lacks $need: $depends"
    done
fi
[ "$(field Description | wc -l)" -ge 4 ] || fail "the extended description is missing"

# lintian: no error (warnings are printed for the record).
lintian --tag-display-limit 0 --info "$deb" >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
if grep -q '^E: ' "$out/lintian.txt"; then fail "lintian reports errors"; fi
echo "package.sh: lintian: $(grep -c '^E: ' "$out/lintian.txt" || true) errors, $(grep -c '^W: ' "$out/lintian.txt" || true) warnings"

# The installed tree on its own. The binaries must find their data inside the scratch root, not in the
# build tree or the source tree they were built from.
root="$out/root"
dpkg -x "$deb" "$root"
for f in usr/bin/swd usr/share/man/man1/swd.1.gz usr/share/doc/swd-studio/copyright \
         usr/share/doc/swd-studio/changelog.gz usr/share/swd-studio/demo-model/swd_demo_model.json; do
    [ -e "$root/$f" ] || fail "the package lacks /$f"
done
if file "$root/usr/bin/swd" | grep -q "not stripped"; then fail "usr/bin/swd is not stripped"; fi
swd="$root/usr/bin/swd"
export HOME="$out/home" XDG_CACHE_HOME="$out/home/.cache"
mkdir -p "$HOME"
"$swd" --version >"$out/version.txt"
cat "$out/version.txt"
for what in "sentencepiece module" "tokenizers" "demo model"; do
    grep "^$what: $root/" "$out/version.txt" >/dev/null || fail "the installed swd does not use its own $what"
done
"$swd" presets list >"$out/presets.txt"
grep -q "swd-2b-6step" "$out/presets.txt" || fail "swd presets list does not list swd-2b-6step"
written=$("$swd" generate --model demo --prompt "a red circle" --seed 3 --out "$out/images" --quiet)
[ "$(echo "$written" | wc -l)" -eq 1 ] || fail "generate --quiet printed more than the written file: $written"
[ -s "$written" ] || fail "generate did not write $written"
"$swd" inspect "$written" | grep -q "a red circle" || fail "the written image does not carry its prompt"
echo "package.sh: the installed swd ran: $written"
echo "package.sh: OK"
