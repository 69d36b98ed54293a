//! Random programs with branches, loops, early returns, local arrays and calls, differentiated by
//! `#[differentiate(reverse, hessian)]`: `f_hessian` and `f_hvp` against a hyper-dual oracle
//! (itself checked against finite differences of the dual-number gradient), the Hessian's
//! symmetry, and their value and gradient against `f` and `f_grad`. See `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/second.rs"));

#[test]
fn programs_differentiated_twice_match_the_oracles() {
    let report = autodiff_random_tests::second::run(SECOND_CHUNKS);
    println!("seed {SECOND_SEED:#x}: {}", report.summary());
    println!("shapes (programs containing each):");
    for (shape, count) in &report.shapes {
        println!("  {shape:28} {count}");
    }
    assert!(
        report.failures.is_empty(),
        "seed {SECOND_SEED:#x} (reproduce with AUTODIFF_RANDOM_SEED={SECOND_SEED:#x}, \
         AUTODIFF_RANDOM_HESSIAN_FIRST and AUTODIFF_RANDOM_HESSIAN_PROGRAMS covering the failing \
         index; AUTODIFF_RANDOM_ONLY=h1,h2 checks only the named programs)\n{report}"
    );
    if report.programs >= 100 && std::env::var("AUTODIFF_RANDOM_ONLY").is_err() {
        report.assert_shapes(SECOND_SHAPES, 2);
    }
}
