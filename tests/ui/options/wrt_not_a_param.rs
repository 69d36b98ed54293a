use autodiff::differentiate;

#[differentiate(wrt(z))]
fn f(x: f64, y: f64) -> f64 {
    x * y
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, 2.0);
}
