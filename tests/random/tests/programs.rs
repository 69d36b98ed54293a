//! Random straight-line programs differentiated by `#[differentiate]`, checked against a
//! dual-number oracle and finite differences. See `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

#[test]
fn random_programs_match_the_oracle() {
    let report = autodiff_random_tests::harness::run(PROGRAM_CHUNKS);
    println!("seed {GENERATOR_SEED:#x}: {}", report.summary());
    assert!(
        report.f32_divergence_is_rare(),
        "seed {GENERATOR_SEED:#x}: {} of {} f32 points branch apart from the f64 oracle",
        report.f32_diverged,
        report.f32_points
    );
    assert!(
        report.failures.is_empty(),
        "seed {GENERATOR_SEED:#x} (reproduce with AUTODIFF_RANDOM_SEED={GENERATOR_SEED:#x} and \
         AUTODIFF_RANDOM_PROGRAMS at least one more than the largest failing index; \
         AUTODIFF_RANDOM_ONLY=p1,p2 checks only the named programs)\n{report}"
    );
}
