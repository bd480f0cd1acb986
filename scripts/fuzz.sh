#!/bin/sh
# Longer libFuzzer runs than ctest's (which runs each target for SWD_FUZZ_SECONDS). Usage:
#   scripts/fuzz.sh [RUNS] [TARGET...]     default: 1000000 inputs of every target, one after another
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/<target without fuzz_>) in
# $BUILD_DIR/fuzz-runs/<target>; crashes are written there as crash-* files. Needs a build configured
# with clang found (SWD_FUZZ=ON); builds the targets first.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
runs=${1:-1000000}
[ $# -gt 0 ] && shift
targets=${*:-fuzz_safetensors_header fuzz_checkpoint_index fuzz_schedule_json fuzz_preset_file fuzz_image_record}
# shellcheck disable=SC2086
nice ninja -C "$build" $targets
for t in $targets; do
    work="$build/fuzz-runs/$t"
    rm -rf "$work" && mkdir -p "$work/corpus"
    cp "$here/tests/fuzz/corpus/${t#fuzz_}/"* "$work/corpus/"
    echo "== $t: $runs inputs"
    (cd "$work" && nice "$build/$t" -runs="$runs" -max_len=1048576 -rss_limit_mb=2048 -timeout=60 \
        -print_final_stats=1 corpus) >"$work/log.txt" 2>&1 || echo "$t: FAILED (see $work/log.txt)"
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "$work/log.txt" || true
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null || echo "$t: no crashes"
done
