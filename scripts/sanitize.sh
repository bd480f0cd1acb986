#!/bin/sh
# An AddressSanitizer + UndefinedBehaviorSanitizer build of the core and its test suites, in its own
# build folder (build-asan), and a run of the suites under it. Usage:
#   scripts/sanitize.sh            swd_core, swd, tst_core_io, tst_core_sampling, tst_cli
#   SAN_ALL=1 scripts/sanitize.sh  every core suite (tst_text, tst_vae, tst_mmdit, tst_pipeline, ... too)
# SAN_BUILD_DIR picks another folder. No GUI, no fuzzers (they have their own sanitized build).
#
# The sentencepiece module is normally loaded with RTLD_DEEPBIND (core/text/spm_library.cpp), which the
# ASan runtime refuses; here it is built uninstrumented and loaded with dlmopen into a namespace of its own
# (SWD_SPM_ISOLATED_NAMESPACE), so the suites that tokenize with T5 run too.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${SAN_BUILD_DIR:-$here/build-asan}
jobs=${SAN_JOBS:-2}
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

cmake -S "$here" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g $san" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g $san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san" \
    -DSWD_SPM_ISOLATED_NAMESPACE=ON -DSWD_BUILD_GUI=OFF -DSWD_FUZZ=OFF -DSWD_USE_PCH="${SAN_PCH:-ON}"

if [ "${SAN_ALL:-0}" = 1 ]; then
    suites="tst_core_io tst_core_sampling tst_cli tst_discovery tst_text tst_vae tst_mmdit tst_pipeline"
else
    suites="tst_core_io tst_core_sampling tst_cli"
fi
# shellcheck disable=SC2086
nice ninja -C "$build" -j"$jobs" swd $suites

# Leaks are reported (detect_leaks=1); UBSan stops at the first finding.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR="$build/tests/xdg-runtime"
mkdir -p "$XDG_RUNTIME_DIR"

failed=0
for suite in $suites; do
    exe="$build/tests/$suite"
    echo "== $suite under ASan + UBSan"
    if ! "$exe"; then
        echo "sanitize.sh: $suite FAILED"
        failed=1
    fi
done
[ $failed = 0 ] && echo "sanitize.sh: all suites passed under ASan + UBSan"
exit $failed
