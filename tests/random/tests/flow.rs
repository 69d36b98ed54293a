//! Random programs with branches, loops, early returns, local arrays and calls (to differentiated
//! helpers, to helpers with `wrt`, to hand-written derivatives), differentiated by
//! `#[differentiate]` and checked against a dual-number oracle, a reverse-mode tape and finite
//! differences, the oracles running the programs' own Rust. See `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/flow.rs"));

#[test]
fn flow_programs_match_the_oracles() {
    let report = autodiff_random_tests::harness::run(FLOW_CHUNKS);
    println!("seed {FLOW_SEED:#x}: {}", report.summary());
    println!("shapes (programs containing each):");
    for (shape, count) in &report.shapes {
        println!("  {shape:28} {count}");
    }
    assert!(
        report.failures.is_empty(),
        "seed {FLOW_SEED:#x} (reproduce with AUTODIFF_RANDOM_SEED={FLOW_SEED:#x}, \
         AUTODIFF_RANDOM_FLOW_FIRST and AUTODIFF_RANDOM_FLOW_PROGRAMS covering the failing index; \
         AUTODIFF_RANDOM_ONLY=q1,q2 checks only the named programs)\n{report}"
    );
    // In a full default run every shape switched on occurs in some programs.
    if report.programs >= 500 && std::env::var("AUTODIFF_RANDOM_ONLY").is_err() {
        for shape in FLOW_SHAPES.split(',') {
            let count = report.shapes.get(shape).copied().unwrap_or(0);
            // A buffer iterated with `skip` past its end is rare: once in the default run.
            let least = if shape == "skip_past_vec_buffer" {
                1
            } else {
                3
            };
            assert!(
                count >= least,
                "shape {shape} occurs in only {count} programs"
            );
        }
    }
    let _ = ALL_SHAPES;
}
