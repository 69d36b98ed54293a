use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 4]) -> f64 {
    g(&x[1..3])
}

#[differentiate]
fn g(x: &[f64]) -> f64 {
    x[0] * x[1]
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0; 4]);
}
