use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let _b = x > 0.0 && x < 1.0;
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
