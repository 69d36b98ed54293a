use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let y: f64 = "1.0".parse().ok()?;
    x * y
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
