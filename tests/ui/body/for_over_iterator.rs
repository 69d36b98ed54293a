use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter().filter(|v| **v > 0.0) {
        s += v;
    }
    s
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(&[1.0]);
}
