use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    f64::copysign(x, 1.0)
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
