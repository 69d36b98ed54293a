#!/usr/bin/env python3
"""Writes the crates whose build times `measure.py` compares.

    python3 benches/compile_time/generate.py --out /tmp/autodiff-compile-time

writes, under OUT, one crate per variant of the same 200 functions (deterministic for a seed):

    with/      each function carries #[differentiate]
    without/   the same functions, no attribute
    plain/     the same functions, no attribute and no dependency: `sigmoid`, `relu` and
               `softplus` are defined in the crate
    expanded/  Cargo.toml only: its src/lib.rs is the expansion of with/src/lib.rs as plain Rust,
               written by the `cost::expand_file` test of autodiff-macros (see README.md)

and, with --stress, crates of one large function each, built to see whether the compiler copes:

    stress-nested-expr-1000/  an expression 1000 levels deep (beyond the 256-level limit)
    stress-nested-if-500/     500 nested `if`s
    stress-nested-for-500/    500 nested `for`s
    stress-straight-3000/     3000 straight-line statements
    stress-straight-10000/    10000 straight-line statements

Every crate depends on autodiff by path (--repo, default: this repository), so all variants
build the same dependencies, and gets a copy of the repository's Cargo.lock, so syn, quote and
proc-macro2 are the versions the repository builds with.
"""

import argparse
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def manifest(name, repo):
    dependency = f'autodiff = {{ path = "{repo}" }}' if repo else ""
    return f"""[package]
name = "{name}"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
{dependency}

# A workspace of its own, outside any other.
[workspace]
"""


# One statement of a straight-line body: `{a}`, `{b}`, `{c}` are earlier values.
STRAIGHT_OPS = [
    "{a} * {b}",
    "{a} + {b} * {c}",
    "({a} - {b}).tanh()",
    "{a}.sin() * {b}",
    "({a} * 0.1).exp()",
    "sigmoid({a}) * {b}",
    "relu({a} - {b})",
    "({a} * {a} + 1.0).sqrt()",
    "{a}.max({b})",
    "{a}.mul_add({b}, {c})",
    "{a}.powi(2) - {b}",
    "{a} / ({b} * {b} + 1.0)",
    "{a}.cos() + {b}",
    "softplus({a}) - {c}",
    "({a} * {a} + {b} * {b} + 1.0).ln()",
]

# One statement of a loop body over index `i`: `{a}`, `{b}` are earlier values of the iteration.
LOOP_OPS = [
    "{a} * {b}",
    "({a} + {b}).tanh()",
    "sigmoid({a})",
    "{a}.sin() + {b}",
    "relu({a}) * {b}",
    "{a}.mul_add(0.5, {b})",
    "({a} * {a} + 1.0).sqrt()",
    "{a} - 0.1 * {b}",
]


def pick(rng, values, unused):
    """An earlier value: one not used yet if any, else usually a recent one, sometimes any."""
    if unused and rng.random() < 0.6:
        v = unused.pop(rng.randrange(len(unused)))
    elif rng.random() < 0.7:
        v = rng.choice(values[-4:])
    else:
        v = rng.choice(values)
    if v in unused:
        unused.remove(v)
    return v


def operands(rng, op, values, unused):
    """Values for the placeholders `op` has."""
    return {k: pick(rng, values, unused) for k in "abc" if "{" + k + "}" in op}


def tail(unused, last):
    """`last` plus every value not used yet, so the body has no dead values."""
    return " + ".join([last] + [v for v in unused if v != last])


def straight_fn(rng, name, statements):
    values = ["x", "y", "z"]
    unused = list(values)
    lines = []
    for k in range(statements - 1):
        op = rng.choice(STRAIGHT_OPS)
        v = f"v{k}"
        lines.append(f"    let {v} = {op.format(**operands(rng, op, values, unused))};")
        values.append(v)
        unused.append(v)
    lines.append(f"    {tail(unused, values[-1])}")
    body = "\n".join(lines)
    return f"pub fn {name}(x: f64, y: f64, z: f64) -> f64 {{\n{body}\n}}"


def loop_body(rng, index, inputs, statements):
    """Statements over `inputs[i]`; returns (lines, last value)."""
    values = [f"{x}[{index}]" for x in inputs] + ["b"]
    unused = list(values)
    lines = []
    for k in range(statements):
        op = rng.choice(LOOP_OPS)
        v = f"t{k}"
        lines.append(f"        let {v} = {op.format(**operands(rng, op, values, unused))};")
        values.append(v)
        unused.append(v)
    lines.append(f"        let t = {tail(unused, values[-1])};")
    return lines, "t"


def loop_fn(rng, name, k):
    statements = rng.randint(3, 6)
    if k % 3 == 0:
        # Two loops over slices: a weighted sum, then a penalty.
        lines, last = loop_body(rng, "i", ["w", "x"], statements)
        body = "\n".join(lines)
        return f"""pub fn {name}(w: &[f64], x: &[f64], b: f64) -> f64 {{
    let mut s = 0.0;
    for i in 0..w.len() {{
{body}
        s += {last} * {last};
    }}
    let mut p = 0.0;
    for j in 0..w.len() {{
        p += w[j] * w[j];
    }}
    s / (w.len() as f64) + 0.01 * p
}}"""
    if k % 3 == 1:
        # A fixed-size array, and a loop that reads the previous element.
        lines, last = loop_body(rng, "i", ["w"], statements)
        body = "\n".join(lines)
        return f"""pub fn {name}(w: [f64; 8], b: f64) -> f64 {{
    let mut s = b;
    for i in 1..8 {{
{body}
        s = s * 0.9 + {last} * w[i - 1];
    }}
    s
}}"""
    # A slice and an integer parameter, with early exits.
    lines, last = loop_body(rng, "i", ["x"], statements)
    body = "\n".join(lines)
    return f"""pub fn {name}(x: &[f64], b: f64, n: usize) -> f64 {{
    let mut s = b;
    for i in 0..x.len() {{
        if i >= n {{
            break;
        }}
{body}
        if {last} > 10.0 {{
            break;
        }}
        s += {last};
    }}
    s
}}"""


def branch_fn(rng, name):
    a = rng.choice(STRAIGHT_OPS).format(a="x", b="y", c="z")
    b = rng.choice(STRAIGHT_OPS).format(a="y", b="z", c="x")
    c = rng.choice(STRAIGHT_OPS).format(a="z", b="x", c="y")
    d = rng.choice(STRAIGHT_OPS).format(a="u", b="x", c="y")
    return f"""pub fn {name}(x: f64, y: f64, z: f64) -> f64 {{
    let u = if x > y {{
        {a}
    }} else if y > z {{
        {b}
    }} else {{
        {c}
    }};
    let mut r = {d};
    if r.abs() > 1.0 {{
        r = r.signum() + (r - r.signum()) * 0.1;
    }}
    if u < 0.0 {{
        return r * u;
    }}
    r + u.abs() * x
}}"""


def functions(count, seed):
    rng = random.Random(seed)
    out = []
    for k in range(count):
        name = f"f{k:03}"
        if k % 4 in (0, 1):
            out.append(straight_fn(rng, name, rng.randint(18, 22)))
        elif k % 4 == 2:
            out.append(loop_fn(rng, name, k // 4))
        else:
            out.append(branch_fn(rng, name))
    return out


# The runtime functions the bodies call, as autodiff-runtime writes them (for f64), for the
# crate without the dependency.
LOCAL_RUNTIME = """fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn relu(x: f64) -> f64 {
    if x <= 0.0 { 0.0 } else { x }
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
"""

HEADER = """//! Generated by benches/compile_time/generate.py: {count} functions, seed {seed}, {variant}.
"""


def write_crate(path, name, repo, lib):
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write(manifest(name, repo))
    lock = os.path.join(repo, "Cargo.lock") if repo else None
    if lock and os.path.isfile(lock):
        shutil.copyfile(lock, os.path.join(path, "Cargo.lock"))
    if lib is not None:
        with open(os.path.join(path, "src", "lib.rs"), "w") as f:
            f.write(lib)


# The stress cases: the shapes of autodiff-macros/src/check/cost.rs.
def link(k, first, second):
    if k == 0:
        return f"let a0 = {first} * {second};"
    if k == 1:
        return f"let a1 = {first} + {second};"
    if k % 3 == 2:
        return f"let a{k} = a{k - 1} - 0.001 * a{k // 2} * {second};"
    return f"let a{k} = (a{k - 1} * 1.0001 + {first}.sin() * a{k - 2}).tanh();"


def stress_straight(n):
    body = "\n    ".join(link(k, "x", "y") for k in range(n - 1))
    return f"pub fn f(x: f64, y: f64) -> f64 {{\n    {body}\n    let a{n - 1} = a{n - 2} * y;\n    a{n - 1}\n}}"


def stress_nested_expr(depth):
    e = "x"
    for k in range(1, depth):
        e = {1: f"f64::sin({e})", 2: f"{e} * y", 3: f"{e} + x", 0: f"f64::tanh({e})"}[k % 4]
    return f"pub fn f(x: f64, y: f64) -> f64 {{\n    {e}\n}}"


def stress_nested_if(depth):
    body = "".join(f"if s > -0.{k} {{ s = (s * 1.0001 + y).tanh(); " for k in range(depth))
    return f"pub fn f(x: f64, y: f64) -> f64 {{\n    let mut s = x;\n    {body}{'}' * depth}\n    s\n}}"


def stress_nested_for(depth):
    body = "".join(
        f"for i{k} in 0..n {{ s = (s * 1.0001 + y).tanh() + (i{k} as f64); " for k in range(depth)
    )
    return f"pub fn f(x: f64, y: f64, n: usize) -> f64 {{\n    let mut s = x;\n    {body}{'}' * depth}\n    s\n}}"


STRESS = {
    "stress-nested-expr-1000": lambda: stress_nested_expr(1000),
    "stress-nested-if-500": lambda: stress_nested_if(500),
    "stress-nested-for-500": lambda: stress_nested_for(500),
    "stress-straight-3000": lambda: stress_straight(3000),
    "stress-straight-10000": lambda: stress_straight(10000),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/autodiff-compile-time")
    ap.add_argument("--repo", default=REPO, help="the autodiff crate the generated crates depend on")
    ap.add_argument("--functions", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stress", action="store_true", help="also write the stress crates")
    args = ap.parse_args()

    fns = functions(args.functions, args.seed)
    imports = "use autodiff::{relu, sigmoid, softplus};\n"
    for variant in ("with", "without", "plain", "expanded"):
        path = os.path.join(args.out, variant)
        if os.path.isdir(os.path.join(path, "src")):
            shutil.rmtree(os.path.join(path, "src"))
        header = HEADER.format(count=args.functions, seed=args.seed, variant=variant)
        if variant == "with":
            body = "\n\n".join(f"#[differentiate]\n{f}" for f in fns)
            lib = f"{header}\nuse autodiff::differentiate;\n{imports}\n{body}\n"
        elif variant == "without":
            lib = f"{header}\n{imports}\n" + "\n\n".join(fns) + "\n"
        elif variant == "plain":
            lib = f"{header}\n{LOCAL_RUNTIME}\n" + "\n\n".join(fns) + "\n"
        else:
            lib = None
        write_crate(path, f"ct_{variant}", None if variant == "plain" else args.repo, lib)
    if args.stress:
        for name, make in STRESS.items():
            lib = f"//! Generated by benches/compile_time/generate.py.\n\nuse autodiff::differentiate;\n\n#[differentiate]\n{make()}\n"
            write_crate(os.path.join(args.out, name), name.replace("-", "_"), args.repo, lib)
    print(f"wrote {args.functions} functions under {args.out}")


if __name__ == "__main__":
    main()
