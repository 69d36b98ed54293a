//! Random programs with several outputs (float arrays and tuples), with branches, loops, early
//! returns, local arrays and calls, differentiated by `#[differentiate(reverse, forward)]`:
//! `f_jacobian` row by row against a reverse-mode tape and column by column against dual numbers,
//! `f_vjp` against `seedᵀ·J`, `f_jvp` against `J·v`, and finite differences. See
//! `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/multi.rs"));

#[test]
fn programs_with_several_outputs_match_the_oracles() {
    let report = autodiff_random_tests::multi::run(MULTI_CHUNKS);
    println!("seed {MULTI_SEED:#x}: {}", report.summary());
    println!("shapes (programs containing each):");
    for (shape, count) in &report.shapes {
        println!("  {shape:28} {count}");
    }
    assert!(
        report.failures.is_empty(),
        "seed {MULTI_SEED:#x} (reproduce with AUTODIFF_RANDOM_SEED={MULTI_SEED:#x}, \
         AUTODIFF_RANDOM_MULTI_FIRST and AUTODIFF_RANDOM_MULTI_PROGRAMS covering the failing \
         index; AUTODIFF_RANDOM_ONLY=m1,m2 checks only the named programs)\n{report}"
    );
    // In a full default run every shape switched on occurs in some programs.
    if report.programs >= 100 && std::env::var("AUTODIFF_RANDOM_ONLY").is_err() {
        report.assert_shapes(MULTI_SHAPES, 2);
    }
}
