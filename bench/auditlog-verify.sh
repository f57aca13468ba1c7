#!/usr/bin/env bash
# The verify benchmark of the verifiable audit log (issue 13): `gatehouse audit verify` must
# check at least 1,000,000 events per 10 s. Builds gatehouse and the filler (release), fills a
# fresh data directory under bench/run/auditlog/ with EVENTS events through the store's own
# append (leaves in the same transaction, a checkpoint every 10,000 events, signed with the data
# directory's key; crates/gatehouse/examples/audit_fill.rs), reports the store's growth per
# event, then times `gatehouse audit verify` RUNS times (wall clock and max RSS, /usr/bin/time).
#
#   bench/auditlog-verify.sh [EVENTS]       (default 1000000; env RUNS=3, CARGO_TARGET_DIR)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVENTS=${1:-1000000}
RUNS=${RUNS:-3}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
DATA=$REPO/bench/run/auditlog
cd "$REPO"

cargo build --release -p gatehouse --bin gatehouse --example audit_fill
rm -rf "$DATA"
mkdir -p "$DATA"
"$TARGET/release/examples/audit_fill" "$DATA" "$EVENTS"

for run in $(seq 1 "$RUNS"); do
    /usr/bin/time -f "run $run: wall %e s, max RSS %M KiB" \
        "$TARGET/release/gatehouse" audit verify --data-dir "$DATA"
done
