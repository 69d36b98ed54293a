use autodiff::differentiate;

#[differentiate]
fn f(x: f64, p: (f64, f64)) -> f64 {
    p.0 * x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, (2.0, 3.0));
}
