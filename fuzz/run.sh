#!/usr/bin/env bash
# Build the fuzz targets with coverage instrumentation on the stable toolchain and run each one
# (or the ones named) for SECONDS seconds. See fuzz/README.md.
#
#   fuzz/run.sh [SECONDS | --budget TOTAL] [TARGET...] [-- LIBFUZZER_ARGS...]
#
# SECONDS (per target) defaults to 60; 0 replays the corpus once without fuzzing. --budget TOTAL
# shares TOTAL seconds among the targets run (at least 1 s each): what CI uses (.ci/run). Each target reads its
# committed seeds from fuzz/corpus/<target>/ and writes the inputs it finds to
# fuzz/generated/<target>/, crashes to fuzz/artifacts/<target>/ and its log to
# fuzz/logs/<target>.log (all three git-ignored). The build goes to $FUZZ_TARGET_DIR
# (default fuzz/target). Exits non-zero if any target failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

all_targets=(http1_request_head http1_response_head http1_chunked destination_canonical lists_parse)

seconds=60
budget=
if [[ $# -gt 1 && $1 == "--budget" && $2 =~ ^[0-9]+$ ]]; then
    budget=$2
    shift 2
elif [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
targets=()
while [[ $# -gt 0 && $1 != "--" ]]; do
    if [[ ! " ${all_targets[*]} " =~ " $1 " ]]; then
        echo "unknown target \`$1\`; targets: ${all_targets[*]}" >&2
        exit 2
    fi
    targets+=("$1")
    shift
done
[[ ${1:-} == "--" ]] && shift
extra=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
if [[ -n $budget ]]; then
    seconds=$(( budget / ${#targets[@]} ))
    [[ $seconds -lt 1 ]] && seconds=1
fi

# SanitizerCoverage through LLVM flags that stable rustc accepts (what cargo-fuzz passes, minus
# the nightly-only -Zsanitizer): 8-bit edge counters and a PC table for libFuzzer's coverage
# feedback, comparison tracing so it can solve magic values, and `cfg(fuzzing)`. The release
# profile in Cargo.toml keeps debug assertions and overflow checks on. An explicit --target keeps
# these flags away from build scripts and proc macros, which are not linked with libFuzzer.
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$here/target}"
host="$(rustc -vV | sed -n 's/^host: //p')"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --target "$host" "${bins[@]}"

mkdir -p logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "generated/$t" "artifacts/$t"
    if [[ $seconds -eq 0 ]]; then
        limit=(-runs=0)
    else
        limit=(-max_total_time="$seconds")
    fi
    echo "== $t: ${seconds}s =="
    status=0
    "$CARGO_TARGET_DIR/$host/release/$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${extra[@]}" \
        "generated/$t" "corpus/$t" > "logs/$t.log" 2>&1 || status=$?
    # The last progress line (coverage, features, corpus, executions) and the final counts.
    grep -E '^#[0-9]+' "logs/$t.log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
        "logs/$t.log" || true
    if [[ $status -ne 0 ]]; then
        echo "$t FAILED (exit $status); see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
        grep -E -A 12 'panicked|ERROR: libFuzzer' "logs/$t.log" | head -n 40 >&2 || true
        failed+=("$t")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
