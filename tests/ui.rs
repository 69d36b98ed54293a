//! Compile-fail cases: every error `#[differentiate]` reports, with its message and span.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
