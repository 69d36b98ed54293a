#!/usr/bin/env python3
"""Builds the crates `generate.py` wrote and prints the build times as Markdown tables.

    python3 benches/compile_time/measure.py --out /tmp/autodiff-compile-time [--reps 3] [--stress]

For each variant and profile (debug, release):

- plain: the functions, no attribute, no dependency;
- without: the functions, no attribute, depending on autodiff (for `sigmoid`, `relu`, `softplus`);
- with: each function under `#[differentiate]`;
- with, macro at opt-level 3: the same, the proc macro (and syn) built optimised through
  `CARGO_PROFILE_*_BUILD_OVERRIDE_OPT_LEVEL=3`;
- expanded: the expansion of `with` pasted as plain Rust,

it times

- clean: `cargo clean`, then `cargo build [--release]`: the crate and all its dependencies;
- crate: the dependencies already built, `cargo clean -p <crate>`, then
  `cargo build [--release] --timings`: the crate alone, with rustc's time split by
  `--timings` into frontend (parsing, macro expansion, type checking, MIR; until the
  metadata is written) and codegen (LLVM).

With --crate-only it times only the crate alone (after one build of its dependencies), the
variants interleaved (one build of each variant, then the next round) so that the load of the
machine falls on all of them alike; --variants and --profiles choose which (by directory name:
plain, without, with, with-opt, expanded).

Each figure is the median of --reps builds, in seconds (wall clock; CPU is user + system time
of cargo and everything it ran). With --stress it also builds each stress crate once (debug,
dependencies prebuilt in a shared target directory) and reports how long it took and how it
ended; a crate that overflows rustc's stack is built once more with a 64 MiB stack
(RUST_MIN_STACK), and the table names where the overflow was (LLVM, rustc or the proc macro).
"""

import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

PROFILES = (("debug", []), ("release", ["--release"]))

# Cargo builds proc macros at opt-level 0 unless a build override says otherwise; this row sets
# one, in its own target directory.
OPTIMISED_MACRO = {
    "CARGO_PROFILE_DEV_BUILD_OVERRIDE_OPT_LEVEL": "3",
    "CARGO_PROFILE_RELEASE_BUILD_OVERRIDE_OPT_LEVEL": "3",
}

# (label, directory, crate, environment)
VARIANTS = (
    ("plain", "plain", "ct_plain", {}),
    ("without", "without", "ct_without", {}),
    ("with", "with", "ct_with", {}),
    ("with, macro at opt-level 3", "with", "ct_with", {**OPTIMISED_MACRO, "CARGO_TARGET_DIR": "target-opt"}),
    ("expanded", "expanded", "ct_expanded", {}),
)


def cargo(crate_dir, args, env=None, timeout=None):
    """Runs cargo in `crate_dir`; returns ((wall seconds, CPU seconds), completed process).

    CPU time is user + system time of cargo and every process it waited for (rustc), so it
    counts the work done whatever else the machine is running."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    child = subprocess.Popen(
        ["cargo", *args],
        cwd=crate_dir,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A group of its own, so a timeout stops rustc as well as cargo.
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
        p = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    except subprocess.TimeoutExpired as e:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        p = e
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (wall, cpu), p


def check(p, what):
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        sys.exit(f"{what} failed")


def unit_sections(target_dir, crate):
    """(duration, frontend, codegen) of `crate` in the last `--timings` report.

    The report embeds its units as JSON (`UNIT_DATA = [...]`). Frontend is the time until the
    crate's metadata was written (`rmeta_time`, or the `frontend` section where cargo records
    sections), codegen the rest."""
    path = os.path.join(target_dir, "cargo-timings", "cargo-timing.html")
    with open(path) as f:
        html = f.read()
    start = html.index("UNIT_DATA = ") + len("UNIT_DATA = ")
    units, _ = json.JSONDecoder().raw_decode(html, start)
    for unit in units:
        if unit["name"] == crate:
            duration = unit["duration"]
            sections = dict(unit.get("sections") or [])
            if "frontend" in sections:
                frontend = sections["frontend"]["end"]
            else:
                frontend = unit.get("rmeta_time") or duration
            return duration, frontend, duration - frontend
    raise KeyError(crate)


def median(xs):
    return statistics.median(xs)


def spread(xs):
    return f"{median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else f"{xs[0]:.2f}"


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def measure_variants(out, reps):
    clean = {}
    crate = {}
    for profile, flags in PROFILES:
        for label, directory, name, env in VARIANTS:
            d = os.path.join(out, directory)
            target = os.path.join(d, env.get("CARGO_TARGET_DIR", "target"))
            times = []
            for _ in range(reps):
                _, p = cargo(d, ["clean"], env)
                check(p, f"cargo clean in {d}")
                t, p = cargo(d, ["build", *flags], env)
                check(p, f"cargo build {flags} in {d}")
                times.append(t)  # (wall, cpu)
            clean[(label, profile)] = times
            runs = []
            for _ in range(reps):
                _, p = cargo(d, ["clean", "-p", name, *flags], env)
                check(p, f"cargo clean -p {name}")
                t, p = cargo(d, ["build", *flags, "--timings"], env)
                check(p, f"cargo build {flags} --timings in {d}")
                runs.append((*t, *unit_sections(target, name)))  # wall, cpu, rustc, frontend, codegen
            crate[(label, profile)] = runs
            print(
                f"  {profile:7} {label:28} clean {spread([t[0] for t in times])} s,"
                f" crate {spread([r[0] for r in runs])} s (load {loadavg()})",
                file=sys.stderr,
            )
    return clean, crate


def variant_key(label, directory):
    return "with-opt" if label.startswith("with, macro") else directory


def measure_crate_only(out, reps, variants, profiles):
    chosen = [v for v in VARIANTS if variant_key(v[0], v[1]) in variants]
    crate = {}
    for profile, flags in PROFILES:
        if profile not in profiles:
            continue
        for label, directory, name, env in chosen:
            d = os.path.join(out, directory)
            _, p = cargo(d, ["build", *flags], env)
            check(p, f"cargo build {flags} in {d}")
            crate[(label, profile)] = []
        for _ in range(reps):
            for label, directory, name, env in chosen:
                d = os.path.join(out, directory)
                target = os.path.join(d, env.get("CARGO_TARGET_DIR", "target"))
                _, p = cargo(d, ["clean", "-p", name, *flags], env)
                check(p, f"cargo clean -p {name}")
                t, p = cargo(d, ["build", *flags, "--timings"], env)
                check(p, f"cargo build {flags} --timings in {d}")
                crate[(label, profile)].append((*t, *unit_sections(target, name)))
        for label, *_ in chosen:
            runs = crate[(label, profile)]
            print(
                f"  {profile:7} {label:28} crate {spread([r[0] for r in runs])} s (load {loadavg()})",
                file=sys.stderr,
            )
    print(
        f"\nThe crate alone, dependencies already built (s, median of {reps}, min–max, variants"
        " interleaved; frontend and codegen: rustc's time for the crate, split by `--timings`)\n"
    )
    columns = ("wall", "CPU", "frontend", "codegen")
    measured = [p for p, _ in PROFILES if p in profiles]
    header = " | ".join(f"{p} {c}" for p in measured for c in columns)
    print(f"| variant | {header} |")
    print("|---|" + "--:|" * (len(measured) * len(columns)))
    fields = (0, 1, 3, 4)
    for label, *_ in chosen:
        cells = [spread([r[i] for r in crate[(label, p)]]) for p in measured for i in fields]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if any(label == "without" for label, *_ in chosen):
        for label, *_ in chosen:
            if label in ("without", "plain"):
                continue
            cells = [
                ratio([r[i] for r in crate[(label, p)]], [r[i] for r in crate[("without", p)]])
                for p in measured
                for i in fields
            ]
            print(f"| ratio {label} / without | " + " | ".join(cells) + " |")


def ratio(a, b):
    return f"{median(a) / median(b):.2f}×"


def print_tables(clean, crate, reps):
    labels = [v[0] for v in VARIANTS]
    print(f"\nClean build: the crate and its dependencies (s, median of {reps}, min–max)\n")
    print("| variant | debug wall | debug CPU | release wall | release CPU |")
    print("|---|--:|--:|--:|--:|")
    for v in labels:
        cells = [spread([t[i] for t in clean[(v, p)]]) for p, _ in PROFILES for i in (0, 1)]
        print(f"| {v} | " + " | ".join(cells) + " |")
    for base in ("without", "plain"):
        for v in ("with", "with, macro at opt-level 3"):
            cells = [
                ratio([t[i] for t in clean[(v, p)]], [t[i] for t in clean[(base, p)]])
                for p, _ in PROFILES
                for i in (0, 1)
            ]
            print(f"| ratio {v} / {base} | " + " | ".join(cells) + " |")

    print(
        f"\nThe crate alone, dependencies already built (s, median of {reps}, min–max;"
        " frontend and codegen: rustc's time for the crate, split by `--timings`)\n"
    )
    columns = ("wall", "CPU", "frontend", "codegen")
    header = " | ".join(f"{p} {c}" for p, _ in PROFILES for c in columns)
    print(f"| variant | {header} |")
    print("|---|" + "--:|" * (2 * len(columns)))
    fields = (0, 1, 3, 4)
    for v in labels:
        cells = [spread([r[i] for r in crate[(v, p)]]) for p, _ in PROFILES for i in fields]
        print(f"| {v} | " + " | ".join(cells) + " |")
    for v in ("with", "with, macro at opt-level 3", "expanded"):
        cells = [
            ratio([r[i] for r in crate[(v, p)]], [r[i] for r in crate[("without", p)]])
            for p, _ in PROFILES
            for i in fields
        ]
        print(f"| ratio {v} / without | " + " | ".join(cells) + " |")


STRESS = (
    "stress-nested-expr-1000",
    "stress-nested-if-500",
    "stress-nested-for-500",
    "stress-straight-3000",
    "stress-straight-10000",
)


# The stack a stress crate that overflows rustc's stack is built with again.
LARGE_STACK = 64 << 20


def overflow_site(stderr):
    """Which shared object most of the frames of a stack-overflow backtrace are in: LLVM, the
    proc macro, or rustc itself."""
    objects = re.findall(r"/([^/\s(]+?)(?:-[0-9a-f]{16})?\.so[^(]*\(", stderr)
    if not objects:
        return "unknown"
    top = max(set(objects), key=objects.count)
    if top.startswith("libLLVM"):
        return "LLVM"
    if top.startswith("librustc_driver"):
        return "rustc"
    return top.removeprefix("lib")


def build_stress(d, crate, env, timeout):
    """Builds one stress crate from clean (its dependencies kept); returns (seconds, outcome)."""
    cargo(d, ["clean", "-p", crate], env)
    (t, _), p = cargo(d, ["build"], env, timeout)
    if isinstance(p, subprocess.TimeoutExpired):
        return t, f"still running after {timeout} s; stopped"
    if p.returncode == 0:
        return t, "builds"
    if "overflowed its stack" in p.stderr:
        return t, f"stack overflow in {overflow_site(p.stderr)}"
    lines = [l.strip() for l in p.stderr.splitlines()]
    keep = [l for l in lines if l.startswith(("error", "-->")) and "could not compile" not in l]
    return t, " / ".join(dict.fromkeys(keep[:4])) or f"exit {p.returncode}"


def cell(text):
    return text.replace("|", "\\|")


def measure_stress(out, timeout):
    env = {"CARGO_TARGET_DIR": os.path.join(out, "stress-target")}
    print(
        "\nStress crates (debug `cargo build` of the crate alone, dependencies prebuilt; a crate"
        f" that overflows rustc's stack is built again with RUST_MIN_STACK={LARGE_STACK})\n"
    )
    print(f"| crate | seconds | outcome | seconds, {LARGE_STACK >> 20} MiB stack | outcome |")
    print("|---|--:|---|--:|---|")
    for name in STRESS:
        d = os.path.join(out, name)
        if not os.path.isdir(d):
            continue
        crate = name.replace("-", "_")
        # Dependencies first, so the time is the crate's.
        _, p = cargo(d, ["build", "-p", "autodiff"], env)
        check(p, f"cargo build -p autodiff in {d}")
        t, outcome = build_stress(d, crate, env, timeout)
        again = " |"
        if outcome.startswith("stack overflow"):
            large = {**env, "RUST_MIN_STACK": str(LARGE_STACK)}
            t2, outcome2 = build_stress(d, crate, large, timeout)
            again = f"{t2:.1f} | {cell(outcome2)}"
        print(f"| {name} | {t:.1f} | {cell(outcome)} | {again} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/autodiff-compile-time")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--stress", action="store_true", help="also build the stress crates")
    ap.add_argument("--only-stress", action="store_true", help="build only the stress crates")
    ap.add_argument("--stress-timeout", type=int, default=600)
    ap.add_argument("--crate-only", action="store_true", help="time only the crate alone, variants interleaved")
    ap.add_argument("--variants", default="plain,without,with,with-opt,expanded", help="with --crate-only")
    ap.add_argument("--profiles", default="debug,release", help="with --crate-only")
    args = ap.parse_args()

    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    if args.crate_only:
        measure_crate_only(args.out, args.reps, args.variants.split(","), args.profiles.split(","))
    elif not args.only_stress:
        clean, crate = measure_variants(args.out, args.reps)
        print_tables(clean, crate, args.reps)
    if args.stress or args.only_stress:
        measure_stress(args.out, args.stress_timeout)
    print(f"\nload average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
