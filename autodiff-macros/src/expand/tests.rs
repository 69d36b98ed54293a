//! Expansions, pretty-printed: what a function turns into.

use proc_macro2::TokenStream;

use super::differentiate;

/// Expands `#[differentiate(attr)] item` and pretty-prints the generated items (the original
/// function, always first and unchanged, is left out).
fn expand(attr: &str, item: &str) -> String {
    let attr: TokenStream = attr.parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    let file: syn::File = syn::parse2(differentiate(attr, item)).expect("expansion parses");
    let generated = syn::File {
        items: file.items.into_iter().skip(1).collect(),
        ..file
    };
    prettyplease::unparse(&generated)
}

#[track_caller]
fn check(attr: &str, item: &str, expected: &str) {
    let got = expand(attr, item);
    let expected = expected.trim_start_matches('\n');
    assert!(
        got == expected,
        "expansion differs\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
}

#[test]
fn show() {
    for (attr, item) in [
        ("", "fn f(x: f64, y: f64) -> f64 { (x + y) * y }"),
        (
            "",
            "pub fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 { let z = w * x; let s = z + b; let a = sigmoid(s); let e = a - t; e.powi(2) }",
        ),
        (
            "",
            "fn g(x: f64, y: f64) -> f64 { let mut a = x.sin() * y; a += x.exp(); a *= y.tanh(); let a = a / (x * x + 1.0); a.max(y).sqrt() + relu(x) + x.abs() + x.clamp(-1.0, 1.0) }",
        ),
        ("forward", "fn f(x: f64, y: f64) -> f64 { (x + y) * y }"),
        (
            "wrt(y)",
            "fn h(x: f32, y: f32, n: i32) -> f32 { let c = (n as f32) * x; c * y.powi(n) + std::f32::consts::PI.ln() + f32::exp(2.0) + y.log(x) + y.to_radians() + y.exp2() }",
        ),
        ("", "fn k(x: f64) -> f64 { 2.0 }"),
    ] {
        println!("{}", expand(attr, item));
    }
}
