//! Random programs with branches, loops, early returns, local arrays and calls, differentiated by
//! `#[differentiate(reverse, hessian)]`: `f_hessian` and `f_hvp` against a hyper-dual oracle
//! (itself checked against finite differences of the dual-number gradient), the Hessian's
//! symmetry, and their value and gradient against `f` and `f_grad`. See `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/second.rs"));

fn report() -> autodiff_random_tests::family::Report {
    let report = autodiff_random_tests::second::run(SECOND_CHUNKS);
    println!("seed {SECOND_SEED:#x}: {}", report.summary());
    println!("shapes (programs containing each):");
    for (shape, count) in &report.shapes {
        println!("  {shape:28} {count}");
    }
    if report.programs >= 100 && std::env::var("AUTODIFF_RANDOM_ONLY").is_err() {
        report.assert_shapes(SECOND_SHAPES, 2);
    }
    report
}

const REPRODUCE: &str = "reproduce with AUTODIFF_RANDOM_SEED, AUTODIFF_RANDOM_HESSIAN_FIRST and \
                         AUTODIFF_RANDOM_HESSIAN_PROGRAMS covering the failing index; \
                         AUTODIFF_RANDOM_ONLY=h1,h2 checks only the named programs";

/// Everything but the second derivatives: the expansions compile, the oracles agree with each
/// other and with finite differences, `f_grad` is right, and `f_hvp`, `f_hvp_into` and
/// `f_hessian` return the value of `f` and the gradient of `f_grad`.
#[test]
fn programs_differentiated_twice_match_the_oracles_to_first_order() {
    let report = report();
    assert!(
        report.first_order_failures() == 0,
        "seed {SECOND_SEED:#x} ({REPRODUCE})\n{report}"
    );
}

/// The second derivatives against the hyper-dual oracle. Known to fail: some programs get wrong
/// `H·v` and Hessians from `#[differentiate(hessian)]` (see the known bugs in README.md).
#[test]
#[ignore = "known bug: wrong second derivatives in some programs with branches and calls"]
fn programs_differentiated_twice_match_the_oracles() {
    let report = report();
    assert!(
        report.failures.is_empty(),
        "seed {SECOND_SEED:#x} ({REPRODUCE})\n{report}"
    );
}
