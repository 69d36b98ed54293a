#!/usr/bin/env bash
# Writes the generated crates, pastes the expansion of the one with the attribute as plain Rust,
# and builds them all, printing Markdown tables. See README.md.
#
#   benches/compile_time/run.sh [OUT] [REPS] [--stress]
#
# The crates depend on the autodiff checkout AUTODIFF_REPO (default: the one holding this
# script), and the expansion is made by that checkout's macro, so a snapshot of a commit
# (`git archive HEAD | tar -x -C /tmp/snapshot`) can be measured while the work tree changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${AUTODIFF_REPO:-$here/../..}" && pwd)
out=${1:-/tmp/autodiff-compile-time}
reps=${2:-3}
stress=${3:-}

python3 "$here/generate.py" --out "$out" --repo "$repo" $stress
AUTODIFF_EXPAND_IN="$out/with/src/lib.rs" AUTODIFF_EXPAND_OUT="$out/expanded/src/lib.rs" \
    cargo test --manifest-path "$repo/Cargo.toml" -p autodiff-macros --lib \
    check::cost::expand_file -- --ignored --exact --nocapture
python3 "$here/measure.py" --out "$out" --reps "$reps" $stress
