#!/usr/bin/env bash
# Checks that the shapes drawn from the second stream of the `q<i>` programs (README, "Shapes
# from a second stream") only insert lines: generates the files of `build.rs` from a base
# revision and from the working tree, each with the lines of the second stream made visible,
# drops those lines, and compares what is left. The lists of shapes are compared without the
# names in `VIEW_SHAPES`.
#
#   tests/random/second_stream.sh [BASE_REV]        # default HEAD
#
# The generator runs on its own (compiled with rustc, about 10 s each), with the same
# `AUTODIFF_RANDOM_*` variables as a build. Exits 1 at the first difference.
set -euo pipefail

base=${1:-HEAD}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Builds and runs the generator in $1 (build.rs and build/), writing into $1/out.
generate() {
    sed -i 's/^            NEW => {}$/            NEW => out.push_str("@@NEW@@"),/' "$1/build/flow.rs"
    rustc --edition 2024 -O --cap-lints allow "$1/build.rs" -o "$1/gen"
    mkdir -p "$1/out"
    (cd "$1" && OUT_DIR="$1/out" ./gen > /dev/null)
}

mkdir -p "$work/base" "$work/new/build"
git -C "$root" archive "$base" tests/random/build.rs tests/random/build |
    tar -x -C "$work/base" --strip-components=2
cp "$root/tests/random/build.rs" "$work/new/"
cp "$root"/tests/random/build/*.rs "$work/new/build/"
generate "$work/base"
generate "$work/new"

python3 - "$work" <<'PY'
import re
import sys

work = sys.argv[1]
flow = open(f"{work}/new/build/flow.rs").read()
names = re.findall(r'"(\w+)"', re.search(r"VIEW_SHAPES: &\[&str\] = &\[(.*?)\];", flow, re.S)[1])


def strip(path):
    """The lines of a generated file without the second stream's, and the count of those."""
    kept, dropped, carry = [], 0, ""
    for line in open(path).read().split("\n"):
        if "@@NEW@@" in line:
            dropped += 1
            # The first line of a raw string holding a source that starts with a new line.
            head = line.split("@@NEW@@")[0]
            if head.strip():
                carry += head
            continue
        if carry:
            line, carry = carry + line.lstrip(), ""
        for n in sorted(names, key=len, reverse=True):
            for form in (f', ("{n}", false)', f', ("{n}", true)', f', "{n}"', f'"{n}", ', f",{n}", f"{n},"):
                line = line.replace(form, "")
        kept.append(line)
    return kept, dropped


status = 0
for f in ["flow", "multi", "second", "programs", "hand"]:
    old, _ = strip(f"{work}/base/out/{f}.rs")
    new, inserted = strip(f"{work}/new/out/{f}.rs")
    if old == new:
        print(f"{f}.rs: the same but for {inserted} inserted lines")
        continue
    status = 1
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    print(f"{f}.rs: differs at line {at + 1} (of what is left):")
    print(f"  base: {old[at] if at < len(old) else '<end>'}"[:300])
    print(f"  now:  {new[at] if at < len(new) else '<end>'}"[:300])
sys.exit(status)
PY
