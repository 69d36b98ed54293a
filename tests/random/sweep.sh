#!/usr/bin/env bash
# The long sweep of the random programs with control flow and calls (`tests/flow.rs`): programs
# q<FIRST>..q<END-1> of the seed, in consecutive batches of BATCH programs, each batch its own
# `cargo test` invocation in the `sweep` profile (see the workspace Cargo.toml).
#
#   tests/random/sweep.sh FIRST END [BATCH]        # e.g. tests/random/sweep.sh 500 20500 400
#
# Environment: AUTODIFF_RANDOM_SEED (default 0x5EED, as the test), AUTODIFF_RANDOM_KNOWN_BUGS (as
# the test), SWEEP_LOGS (directory for the logs, default target/sweep-logs), SWEEP_STOP_AT (a time
# `date -d` understands, e.g. 20:55 UTC: no batch is started after it).
#
# One line per batch goes to stdout and to $SWEEP_LOGS/summary.tsv: the range, build and run seconds,
# pass / FAIL (the test reported failures) / NO-COMPILE / PANIC, the programs named in the failure,
# the start time and the test's own count of what it checked. A failing batch keeps its generated
# file as $SWEEP_LOGS/flow-q<FIRST>.rs and its logs as q<FIRST>.build.log and q<FIRST>.run.log. The
# exit status is 1 if any batch failed.
set -u

first=${1:?usage: sweep.sh FIRST END [BATCH]}
end=${2:?usage: sweep.sh FIRST END [BATCH]}
batch=${3:-400}
root=$(cd "$(dirname "$0")/../.." && pwd)
logs=${SWEEP_LOGS:-$root/target/sweep-logs}
mkdir -p "$logs"
summary=$logs/summary.tsv
stop_at=
if [ -n "${SWEEP_STOP_AT:-}" ]; then
    stop_at=$(date -d "$SWEEP_STOP_AT" +%s) || exit 2
fi

export AUTODIFF_RANDOM_PROGRAMS=0
export CARGO_INCREMENTAL=0
cargo_test=(cargo test --profile sweep -p autodiff-random-tests --test flow)

# The programs containing the given line numbers of the generated file (the last `fn q<i>` above).
programs_at_lines() {
    local file=$1
    shift
    [ $# -gt 0 ] || return 0
    awk -v lines="$*" '
        BEGIN { n = split(lines, want, " "); for (i = 1; i <= n; i++) wanted[want[i]] = 1 }
        match($0, /fn q[0-9]+/) { current = substr($0, RSTART + 3, RLENGTH - 3) }
        (NR in wanted) && current != "" { print current }
    ' "$file" | sort -u -V | tr '\n' ' '
}

[ -f "$summary" ] || printf 'first\tend\tbuild_s\trun_s\tresult\tprograms\tstarted\tchecked\n' >"$summary"
cd "$root" || exit 2
commit=$(git rev-parse --short HEAD)
echo "sweep q$first..q$((end - 1)) in batches of $batch at $commit, logs in $logs"
status=0
for ((k = first; k < end; k += batch)); do
    if [ -n "$stop_at" ] && [ "$(date +%s)" -ge "$stop_at" ]; then
        echo "stopped before q$k: past $SWEEP_STOP_AT"
        break
    fi
    n=$((end - k < batch ? end - k : batch))
    started=$(date -u +%H:%M:%S)
    export AUTODIFF_RANDOM_FLOW_FIRST=$k AUTODIFF_RANDOM_FLOW_PROGRAMS=$n
    t0=$(date +%s)
    "${cargo_test[@]}" --no-run >"$logs/q$k.build.log" 2>&1
    built=$?
    t1=$(date +%s)
    generated=$(ls -t "$root"/target/sweep/build/autodiff-random-tests-*/out/flow.rs 2>/dev/null | head -1)
    names=
    checked=
    run_s=0
    if [ $built -ne 0 ]; then
        result=NO-COMPILE
        lines=$(grep -oE 'out/flow\.rs:[0-9]+' "$logs/q$k.build.log" | cut -d: -f2 | sort -un)
        # shellcheck disable=SC2086
        names=$(programs_at_lines "$generated" $lines)
    else
        "${cargo_test[@]}" -- --nocapture >"$logs/q$k.run.log" 2>&1
        ran=$?
        checked=$(grep -m1 -oE '^seed 0x[0-9a-f]+: .*' "$logs/q$k.run.log" | cut -d' ' -f3-)
        run_s=$(($(date +%s) - t1))
        if [ $ran -eq 0 ]; then
            result=pass
        elif grep -q '^=== q' "$logs/q$k.run.log"; then
            result=FAIL
            names=$(grep -oE '^=== q[0-9]+' "$logs/q$k.run.log" | cut -c5- | sort -u -V | tr '\n' ' ')
        else
            result=PANIC
            lines=$(grep -oE 'out/flow\.rs:[0-9]+' "$logs/q$k.run.log" | cut -d: -f2 | sort -un)
            # shellcheck disable=SC2086
            names=$(programs_at_lines "$generated" $lines)
        fi
    fi
    if [ "$result" = pass ]; then
        rm -f "$logs/q$k.build.log" "$logs/q$k.run.log"
    else
        status=1
        [ -n "$generated" ] && cp "$generated" "$logs/flow-q$k.rs"
    fi
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$k" "$((k + n))" "$((t1 - t0))" "$run_s" \
        "$result" "${names% }" "$started" "$checked")
    echo "$line" | tee -a "$summary"
done
exit $status
