#!/usr/bin/env bash
# Counts the instructions rustc spends running `#[differentiate]` on the 200-function crate of
# generate.py, under callgrind, with the macro built as cargo builds a proc macro for a user's
# debug build (opt-level 0, debug assertions on). Unlike a timed build it does not depend on the
# machine's load, and unlike the in-process `check::cost::expand_file` it counts the macro's
# work through the compiler's token bridge, as in a real build. See README.md.
#
#   benches/compile_time/macro_instructions.sh OUT [CHECKOUT]
#
# OUT is a directory of generate.py's crates (run.sh writes one); CHECKOUT the autodiff checkout
# whose macro is measured (default: the one holding this script), a snapshot of a commit
# (`git archive C | tar -x -C DIR`) to compare commits. Needs valgrind. About a minute.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$1" && pwd)
repo=$(cd "${2:-$here/../..}" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/crate/src" "$work/out"
cp "$out/with/src/lib.rs" "$work/crate/src/"
cp "$out/with/Cargo.lock" "$work/crate/" 2>/dev/null || true
sed "s#^autodiff = .*#autodiff = { path = \"$repo\" }#" "$out/with/Cargo.toml" >"$work/crate/Cargo.toml"
cd "$work/crate"
export CARGO_INCREMENTAL=0
cargo build -q
touch src/lib.rs
# The crate's own rustc command, as cargo runs it; then again under callgrind, stopping after the
# front end (`--emit=metadata`), which is where the macro runs.
cmd=$(cargo build -v 2>&1 | grep 'Running `' | tail -1 | sed 's/^ *Running `//; s/`$//')
cmd=$(echo "$cmd" | sed "s#--out-dir [^ ]*#--out-dir $work/out#; s#--emit=[^ ]*#--emit=metadata#; s#--error-format=json##; s#--json=[^ ]*##")
eval valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$cmd" >"$work/log" 2>&1
total=$(grep -o 'Collected : [0-9]*' "$work/log" | awk '{print $3}')
macro=$(callgrind_annotate --inclusive=yes "$work/cg" 2>/dev/null |
    grep 'AttrProcMacro as rustc_expand::base::AttrProcMacro>::expand \[' | head -1 |
    awk '{gsub(",", "", $1); print $1}')
parse=$(callgrind_annotate --inclusive=yes "$work/cg" 2>/dev/null |
    grep 'Parse for syn::item::ItemFn>::parse \[' | head -1 | awk '{gsub(",", "", $1); print $1}')
echo "front end (rustc --emit=metadata): $total instructions"
echo "the macro, 200 expansions:          $macro instructions"
echo "  of which syn parsing the items:   ${parse:-0} instructions"
